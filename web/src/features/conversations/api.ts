import { http } from '@/common/http'
import type { Account, Conversation, Group, Transfer } from '@/common/types'

export type Scope = 'mine' | 'colleagues' | 'history' | 'recent'

export const conversationsApi = {
  list: (scope: Scope, page = 1, pageSize = 50) =>
    http.get<{ items: Conversation[]; total: number }>(`/api/conversations?scope=${scope}&page=${page}&page_size=${pageSize}`),
  get: (id: number) => http.get<Conversation>(`/api/conversations/${id}`),
  end: (id: number) => http.post<Conversation>(`/api/conversations/${id}/end`),
  transferToAgent: (id: number, agentId: number) => http.post<Transfer>(`/api/conversations/${id}/transfer`, { to_agent_id: agentId }),
  transferToGroup: (id: number, groupId: number) => http.post<Transfer>(`/api/conversations/${id}/transfer`, { to_group_id: groupId }),
  acceptTransfer: (id: number) => http.post<Transfer>(`/api/transfers/${id}/accept`),
  declineTransfer: (id: number) => http.post<Transfer>(`/api/transfers/${id}/decline`),
  cancelTransfer: (id: number) => http.post<Transfer>(`/api/transfers/${id}/cancel`),
  leave: (id: number) => http.post<Conversation>(`/api/conversations/${id}/leave`),
  invite: (id: number, agentId: number) => http.post<Conversation>(`/api/conversations/${id}/invite`, { agent_id: agentId }),
  join: (id: number) => http.post<Conversation | { conversation: Conversation }>(`/api/conversations/${id}/join`),
  agents: () => http.get<{ items: Account[] }>('/api/agents'),
  groups: () => http.get<{ items: Group[] }>('/api/groups'),
}
