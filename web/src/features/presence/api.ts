import { http } from '@/common/http'
import type { Account, AgentStatus } from '@/common/types'

export interface WorkStats {
  online_seconds: number
  login_seconds: number
  queue_length: number
}

export const presenceApi = {
  setStatus: (status: AgentStatus) => http.put<{ account: Account }>('/api/me/status', { status }),
  setLimit: (limit: number) => http.put<{ account: Account }>('/api/me/reception-limit', { limit }),
  stats: () => http.get<WorkStats>('/api/me/stats'),
}
