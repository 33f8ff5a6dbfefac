import { http, query } from '@/common/http'

export type RuleKind =
  | 'greeting'
  | 'closing'
  | 'regreeting'
  | 'forbidden_words'
  | 'slow_first_response'
  | 'unanswered'
  | 'keywords'
  | 'regex'
  | 'timing'
export type Polarity = 'positive' | 'negative'

export const BUILT_IN_KINDS: RuleKind[] = [
  'greeting',
  'closing',
  'regreeting',
  'forbidden_words',
  'slow_first_response',
  'unanswered',
]
export const CUSTOM_KINDS: RuleKind[] = ['keywords', 'regex', 'timing']
/** Which settings each kind uses (the server checks the same, QA-1). */
export const USES_TIME: RuleKind[] = ['greeting', 'regreeting', 'slow_first_response', 'unanswered', 'timing']
export const USES_PHRASES: RuleKind[] = ['greeting', 'closing', 'regreeting', 'forbidden_words', 'keywords']

export interface Rule {
  key: string
  kind: RuleKind
  polarity: Polarity
  is_enabled: boolean
  group_ids: number[]
  within_s: number
  phrases: string[]
  pattern: string
  speaker: 'agent' | 'consumer'
  name: string
}

export interface RulesView {
  today: string
  rules: Rule[]
  next: { applies_from: string; rules: Rule[] } | null
}

export interface Inspection {
  id: number
  state: 'running' | 'done'
  first: string
  last: string
  group_ids: number[]
  total: number
  processed: number
  created_by: number
  created_at: string
  finished_at: string | null
}

export interface AgentReport {
  agent_id: number
  display_name: string
  hits: Record<string, number>
  total: number
  false_positives: number
}

export interface Report extends Inspection {
  rules: { key: string; kind: RuleKind; polarity: Polarity; name: string }[]
  agents: AgentReport[]
}

export interface Hit {
  id: number
  inspection_id: number
  conversation_id: number
  agent_id: number
  rule_key: string
  polarity: Polarity
  seq: number | null
  at: string
  is_false_positive: boolean
}

export interface HitContext {
  hit: Hit
  messages: { seq: number; sender: string; sender_id: number | null; kind: string; body: string; created_at: string }[]
}

export const qualityApi = {
  rules: () => http.get<RulesView>('/api/quality/rules'),
  saveRules: (rules: Rule[]) => http.put<RulesView>('/api/quality/rules', { rules }),
  inspections: () => http.get<{ items: Inspection[] }>('/api/quality/inspections'),
  start: (first: string, last: string, groupIds: number[]) =>
    http.post<Report>('/api/quality/inspections', { first, last, group_ids: groupIds }),
  report: (id: number) => http.get<Report>(`/api/quality/inspections/${id}`),
  hits: (id: number, filter: { agent_id?: number; rule_key?: string; page: number; page_size: number }) =>
    http.get<{ items: Hit[]; total: number; page: number }>(`/api/quality/inspections/${id}/hits${query(filter)}`),
  context: (hitId: number) => http.get<HitContext>(`/api/quality/hits/${hitId}/context`),
  markFalsePositive: (hitId: number, isFalsePositive: boolean) =>
    http.put<Hit>(`/api/quality/hits/${hitId}/false-positive`, { is_false_positive: isFalsePositive }),
  /** QA-2: the report's CSV download address (the browser fetches it with the session cookie). */
  csvUrl: (id: number) => `/api/quality/inspections/${id}${query({ format: 'csv' })}`,
}

/** A rule's label: the custom rule's own name, else the built-in kind's translation key. */
export function ruleLabel(t: (key: string) => string, rule: { key: string; kind: RuleKind; name: string } | undefined, key: string): string {
  if (rule?.name) return rule.name
  return t(`quality.kinds.${rule?.kind ?? key}`)
}
