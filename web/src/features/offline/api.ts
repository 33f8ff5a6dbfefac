import { http, query } from '@/common/http'
import type { ChatItem } from '@/common/types'

/** OFFL-2: one consumer's offline messages, however often they wrote. */
export interface OfflineEntry {
  id: number
  consumer_id: number
  nickname: string
  cause: 'no_agent' | 'no_pickup' | 'outside_hours' | 'left_queue' | 'blacklisted'
  first_at: string
  last_at: string
  processed_at: string | null
  processed_by: number | null
  processed_cause: 'marked' | 'started' | 'served' | 'auto_assigned' | null
}

export interface OfflinePage {
  items: OfflineEntry[]
  total: number
  unprocessed_7d: number
}

export interface OfflineHistory {
  entry: OfflineEntry
  items: ChatItem[]
  next_before: number | null
}

/** ROUTE-5: a blacklisted consumer. */
export interface BlacklistEntry {
  id: number
  consumer_id: number
  nickname: string
  reason: string
  added_by: number | null
  added_at: string
}

export type EntryStatus = 'unprocessed' | 'processed' | 'all'

/** ROUTE-5, shared with the server. */
export const REASON_MAX = 200
export const BATCH_MAX = 100

export const offlineApi = {
  entries: (status: EntryStatus, page = 1, pageSize = 50) =>
    http.get<OfflinePage>(`/api/offline/entries${query({ status, page, page_size: pageSize })}`),
  history: (id: number, before: number | null = null) =>
    http.get<OfflineHistory>(`/api/offline/entries/${id}/messages${query({ before: before ?? undefined, limit: 50 })}`),
  markProcessed: (ids: number[]) => http.post<{ processed: number }>('/api/offline/entries/processed', { entry_ids: ids }),
  start: (ids: number[]) => http.post<{ conversation_ids: number[] }>('/api/offline/entries/start', { entry_ids: ids }),
  blacklist: (conversationId: number, reason: string) => http.post<BlacklistEntry>(`/api/conversations/${conversationId}/blacklist`, { reason }),
  blacklistPage: (page = 1) => http.get<{ items: BlacklistEntry[]; total: number }>(`/api/blacklist${query({ page, page_size: 50 })}`),
  unblacklist: (id: number) => http.del<unknown>(`/api/blacklist/${id}`),
}
