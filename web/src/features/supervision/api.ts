import { http } from '@/common/http'
import type { Account } from '@/common/types'

/** LIVE-1: today's totals of the shop (and yesterday's, beside them). */
export interface LiveTotals {
  conversations: number
  human_requests: number
  assigned: number
  replies: number
  first_response_s: number | null
  response_s: number | null
  pickup_rate: number | null
  rate_30s: number | null
  satisfaction_rate: number | null
}

export interface LiveShop {
  queued: number
  online: number
  suspended: number
  pending: number
  pending_per_agent: number | null
  response_3m_s: number | null
  today: LiveTotals
  yesterday: LiveTotals
  alerting: string[]
}

export interface LiveBot {
  enabled: boolean
  mode: 'bot_first' | 'human_first'
  consultations_3m: number
  handovers_3m: number
  handover_rate_3m: number | null
  faq_slot_start: string
  faq_clicks: { item_id: string; title: string; clicks: number }[]
}

export interface LiveGroup {
  id: number
  name: string
  queued: number
  online: number
  suspended: number
  pending: number
  pending_per_agent: number | null
  response_3m_s: number | null
  agent_ids: number[]
  busy: boolean
  alerting: string[]
}

export type AgentState = 'online' | 'busy' | 'break' | 'offline' | 'disconnected'

export interface LiveAgent {
  id: number
  display_name: string
  group_id: number | null
  role: string
  status: string
  state: AgentState
  is_suspended: boolean
  is_online: boolean
  load: number
  reception_limit: number
  pending: number
  served_today: number
  response_3m_s: number | null
  alerting: string[]
}

export interface LiveView {
  shop_id: number
  at: string
  shop: LiveShop | null
  bot: LiveBot | null
  groups: LiveGroup[]
  agents: LiveAgent[]
}

export interface FaqChild {
  id?: string
  title: string
  question_id: number
}

export interface FaqTop {
  id?: string
  title: string
  children: FaqChild[]
}

export type BatchAction = 'suspend' | 'unsuspend' | 'move'

/** LIVE-1 reads, LIVE-3 dispatch (each audited server-side). */
export const supervisionApi = {
  live: () => http.get<LiveView>('/api/supervision/live'),
  dispatchAgents: (agent_ids: number[], action: BatchAction, group_id?: number) =>
    http.post<{ items: Account[] }>('/api/supervision/dispatch/agents', { agent_ids, action, ...(group_id ? { group_id } : {}) }),
  setBotMode: (mode: LiveBot['mode']) => http.put<{ bot_enabled: boolean; bot_mode: string }>('/api/supervision/dispatch/bot-mode', { mode }),
  setFaqMenu: (faq_menu: FaqTop[]) => http.put<{ faq_menu: FaqTop[] }>('/api/supervision/dispatch/faq-menu', { faq_menu }),
}
