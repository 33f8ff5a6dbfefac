import { http, query } from '@/common/http'
import type { Account, Group } from '@/common/types'

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
