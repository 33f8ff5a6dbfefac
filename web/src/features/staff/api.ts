import { http, query } from '@/common/http'
import type { Account, Group } from '@/common/types'
import type { Feature } from '@/features/auth/api'

export type SubRole = 'agent' | 'leader' | 'supervisor'
export type BatchAction = 'suspend' | 'unsuspend' | 'move'

export interface NewAgent {
  username: string
  password: string
  display_name?: string
  role: SubRole
  group_id?: number | null
  has_im_permission: boolean
  reception_limit: number
}

export interface AgentPatch {
  display_name?: string
  has_im_permission?: boolean
  is_disabled?: boolean
  reception_limit?: number
}

export interface AuditRow {
  id: number
  actor_id: number | null
  action: string
  target_kind: 'account' | 'group' | 'shop' | string
  target_id: number | null
  details: Record<string, unknown>
  at: string
}

/** ACCT-1 to ACCT-3 and ACCT-6 (owner), PRES-1 batch actions (supervisors and group leaders). */
export const staffApi = {
  agents: () => http.get<{ items: Account[] }>('/api/agents'),
  createAgent: (body: NewAgent) => http.post<{ account: Account }>('/api/agents', body),
  updateAgent: (id: number, patch: AgentPatch) => http.put<{ account: Account }>(`/api/agents/${id}`, patch),
  resetPassword: (id: number, password: string) => http.post<{ ok: boolean }>(`/api/agents/${id}/password`, { password }),
  batch: (agentIds: number[], action: BatchAction, groupId?: number | null) =>
    http.post<{ items: Account[] }>('/api/agents/batch', { agent_ids: agentIds, action, ...(action === 'move' ? { group_id: groupId } : {}) }),

  groups: () => http.get<{ items: Group[] }>('/api/groups'),
  addGroup: (name: string) => http.post<Group>('/api/groups', { name }),
  renameGroup: (id: number, name: string) => http.put<Group>(`/api/groups/${id}`, { name }),
  deleteGroup: (id: number) => http.del<{ ok: boolean }>(`/api/groups/${id}`),

  audit: (before: number | null, limit = 50) => http.get<{ items: AuditRow[]; next_before: number | null }>(`/api/audit${query({ before, limit })}`),
}

/** The server's limits (domain/accounts.py). */
export const STAFF_LIMITS = { name: 50, passwordMin: 8, passwordMax: 200, receptionMax: 50 } as const

/** ACCT-6: permissions per feature area. */
export type { Feature }

export interface AccountPermissions {
  account_id: number
  role: string
  features: Feature[]
  defaults: Feature[]
}

export interface PermissionRequest {
  id: number
  account_id: number
  feature: Feature
  note: string
  status: 'pending' | 'approved' | 'declined'
  created_at: string
  decided_at: string | null
  decided_by: number | null
}

export const permissionApi = {
  list: () => http.get<{ features: Feature[]; items: AccountPermissions[] }>('/api/permissions'),
  set: (accountId: number, features: Feature[]) => http.put<AccountPermissions>(`/api/agents/${accountId}/permissions`, { features }),
  requests: () => http.get<{ items: PermissionRequest[] }>('/api/permission-requests'),
  ask: (feature: Feature, note: string) => http.post<PermissionRequest>('/api/permission-requests', { feature, note }),
  approve: (id: number) => http.post<PermissionRequest>(`/api/permission-requests/${id}/approve`),
  decline: (id: number) => http.post<PermissionRequest>(`/api/permission-requests/${id}/decline`),
}

/** The server's limit on a request's note (domain/permissions.py). */
export const PERMISSION_NOTE_MAX = 200
