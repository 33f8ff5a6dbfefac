import { http, query } from '@/common/http'

export type PeriodKind = 'day' | 'week' | 'month' | 'custom'

export interface PeriodChoice {
  period: PeriodKind
  first?: string
  last?: string
}

export interface Assessment {
  requests: number
  non_service: number
  first_reply_within_2min: number
  rounds: number
  rounds_within_3min: number
  non_service_rate: number | null
  first_reply_rate_2min: number | null
  human_reply_rate_3min: number | null
}

export interface Figures {
  conversations: number
  human_requests: number
  assigned: number
  picked_up: number
  settled: number
  queue_time_s: number | null
  first_response_s: number | null
  response_s: number | null
  replies: number
  replies_within_30s: number
  replies_within_60s: number
  rated: number
  satisfied: number
  pickup_rate: number | null
  abandonment_rate: number | null
  rate_30s: number | null
  rate_60s: number | null
  satisfaction_rate: number | null
  assessment: Assessment
}

export interface PeriodView {
  kind: PeriodKind
  first: string
  last: string
  previous_first: string
  previous_last: string
  time_zone: string
}

export interface Dashboard {
  period: PeriodView
  current: Figures
  previous: Figures
  trend: (Figures & { date: string })[]
}

export interface AgentRow extends Omit<Figures, 'assessment' | 'pickup_rate' | 'abandonment_rate'> {
  agent_id: number
  display_name: string
  group_id: number | null
  rating_rate: number | null
}

export interface AgentAnalysis {
  period: PeriodView
  agents: AgentRow[]
}

export type Comparison = 'at_most' | 'below' | 'at_least'

export interface TargetResult {
  metric: string
  comparison: Comparison
  threshold: number
  value: number | null
  passed: boolean | null
  gap: number | null
}

export interface Targets {
  preset: 'feige' | 'xixi'
  edited: boolean
  period: PeriodView
  results: TargetResult[]
}

export interface TargetInput {
  metric: string
  comparison: Comparison
  threshold: number
}

export interface IntentRow {
  top: string
  name: string
  conversations: number
  rated: number
  dissatisfied: number
  dissatisfaction_rate: number | null
  contribution: number | null
}

export interface Intents {
  period: PeriodView
  conversations: number
  by_volume: IntentRow[]
  by_contribution: IntentRow[]
}

export interface IntentNode {
  name: string
  children: { name: string; keywords: string[] }[]
}

export interface Taxonomy {
  edited: boolean
  taxonomy: IntentNode[]
}

function params(choice: PeriodChoice): Record<string, string> {
  const out: Record<string, string> = { period: choice.period }
  if (choice.period === 'custom' && choice.first && choice.last) {
    out.first = choice.first
    out.last = choice.last
  }
  return out
}

export const analyticsApi = {
  dashboard: (choice: PeriodChoice) => http.get<Dashboard>(`/api/analytics/dashboard${query(params(choice))}`),
  agents: (choice: PeriodChoice) => http.get<AgentAnalysis>(`/api/analytics/agents${query(params(choice))}`),
  targets: () => http.get<Targets>('/api/analytics/targets'),
  setTargets: (preset: string, targets: TargetInput[] | null) =>
    http.put<Targets>('/api/analytics/targets', { preset, targets }),
  intents: (choice: PeriodChoice) => http.get<Intents>(`/api/analytics/intents${query(params(choice))}`),
  taxonomy: () => http.get<Taxonomy>('/api/analytics/intents/taxonomy'),
  setTaxonomy: (taxonomy: IntentNode[] | null) => http.put<Taxonomy>('/api/analytics/intents/taxonomy', { taxonomy }),
  /** DATA-8: the CSV download's address (the browser fetches it with the session cookie). */
  csvUrl: (table: 'dashboard' | 'agents' | 'intents', choice: PeriodChoice) =>
    `/api/analytics/${table}${query({ ...params(choice), format: 'csv' })}`,
}
