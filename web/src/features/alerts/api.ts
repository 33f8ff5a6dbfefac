import { http, query } from '@/common/http'

/** LIVE-2: what a rule watches, as the server names it (docs/protocol.md, Alerts). */
export type AlertScope = 'shop' | 'group' | 'agent'
export type Comparison = 'gt' | 'ge' | 'lt' | 'le'

export const METRICS: Record<AlertScope, readonly string[]> = {
  shop: ['queued', 'online', 'suspended', 'pending_per_agent', 'response_3m_s', 'handover_rate_3m'],
  group: ['queued', 'online', 'suspended', 'pending', 'pending_per_agent', 'response_3m_s'],
  agent: ['pending', 'response_3m_s', 'served_today'],
}
export const COMPARISONS: readonly Comparison[] = ['gt', 'ge', 'lt', 'le']

export interface AlertRuleInput {
  scope: AlertScope
  group_id: number | null
  metric: string
  comparison: Comparison
  threshold: number
  enabled: boolean
  recipient_ids: number[]
}

export interface AlertRule extends AlertRuleInput {
  id: number
}

export interface AlertRules {
  items: AlertRule[]
  interval_s: number
  next_evaluation_at: string | null
  max_recipients: number
}

export interface AlertHit {
  scope: AlertScope
  id: number | null
  value: number
}

/** One alert: a rule broken in an evaluation period; pushed as the `alert` staff frame. */
export interface Alert {
  id: number
  rule_id: number
  scope: AlertScope
  group_id: number | null
  metric: string
  comparison: Comparison
  threshold: number
  hits: AlertHit[]
  period_at: string
  created_at: string
}

export interface AlertHistoryItem extends Alert {
  recipient_ids: number[]
  suppressed: boolean
}

const RULES = '/api/supervision/alerts/rules'

export const alertsApi = {
  rules: () => http.get<AlertRules>(RULES),
  addRule: (rule: AlertRuleInput) => http.post<AlertRule>(RULES, rule),
  saveRule: (id: number, rule: AlertRuleInput) => http.put<AlertRule>(`${RULES}/${id}`, rule),
  deleteRule: (id: number) => http.del<{ ok: boolean }>(`${RULES}/${id}`),
  history: (page = 1, pageSize = 20) =>
    http.get<{ items: AlertHistoryItem[]; total: number }>(`/api/supervision/alerts${query({ page, page_size: pageSize })}`),
}
