import { http, query } from '@/common/http'

/** DATA-5: the conversation list's filters (all optional). */
export interface ListFilters {
  agent_id?: number | null
  group_id?: number | null
  rating_source?: 'self' | 'invited' | 'forced' | null
  rating?: string | null
  since?: string | null
  until?: string | null
}

export interface ListedRating {
  stars: number
  source: 'self' | 'invited' | 'forced'
  agent_id: number
  at: string
}

export interface ListedConversation {
  id: number
  state: string
  created_at: string
  ended_at: string | null
  consumer: { id: number; uid: string; nickname: string }
  agent_id: number | null
  agent_name: string | null
  group_id: number | null
  group_name: string | null
  best_stars: number | null
  ratings: ListedRating[]
  summary: { path: string[]; note: string; agent_id: number; at: string } | null
}

export interface ConversationPage {
  items: ListedConversation[]
  next_cursor: string | null
}

/** DATA-7: one day's sales attribution. */
export interface SalesFigures {
  served: number
  inquiring: number
  paying: number
  inquiring_paying: number
  sales: string
  conversion_rate: number | null
}

export interface SalesView {
  day: string
  previous_day: string
  time_zone: string
  current: SalesFigures
  previous: SalesFigures
  agents: { agent_id: number; display_name: string; current: SalesFigures; previous: SalesFigures }[]
}

function params(f: ListFilters): Record<string, string | number | null | undefined> {
  return {
    agent_id: f.agent_id,
    group_id: f.group_id,
    rating_source: f.rating_source,
    rating: f.rating,
    since: f.since,
    until: f.until,
  }
}

export const listApi = {
  conversations: (f: ListFilters, cursor: string | null, pageSize: number) =>
    http.get<ConversationPage>(`/api/analytics/conversations${query({ ...params(f), cursor, page_size: pageSize })}`),
  conversationsCsvUrl: (f: ListFilters) => `/api/analytics/conversations${query({ ...params(f), format: 'csv' })}`,
  sales: (day: string | null) => http.get<SalesView>(`/api/analytics/sales${query({ day })}`),
  salesCsvUrl: (day: string | null) => `/api/analytics/sales${query({ day, format: 'csv' })}`,
}

/** Local midnight of a YYYY-MM-DD day as an ISO time with its offset (the browser's zone). */
export function dayStart(day: string, plusDays = 0): string {
  const [y, m, d] = day.split('-').map(Number)
  return new Date(y, m - 1, d + plusDays).toISOString()
}
