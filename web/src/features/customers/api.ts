import { http, query } from '@/common/http'
import type { Consumer, Conversation, Message } from '@/common/types'

/** DESK-5 limits, shared with the server (docs/protocol.md). */
export const PROFILE_LIMITS = { notes: 500, tags: 10, tag: 20, phone: 20 } as const
export const PHONE_PATTERN = /^\+?[0-9][0-9 -]{4,19}$/

export interface Profile {
  notes: string
  tags: string[]
  phone: string
  updated_by: number | null
  updated_at: string | null
}

export interface VisitedPage {
  url: string
  title: string
  at: string
  seconds_on_page: number | null
}

export interface Trail {
  source: string
  ip: string
  region: string
  page_url: string
  pages: VisitedPage[]
}

export interface Panel {
  consumer: Consumer
  profile: Profile
  recent_conversations: Conversation[]
  trail: Trail
}

export interface CustomerOrder {
  id: number
  order_no: string
  title: string
  item_count: number
  amount: string
  ordered_at: string
}

export interface FoundConsumer {
  id: number
  uid: string
  nickname: string
  is_vip: boolean
  last_ordered_at: string | null
  may_start: boolean
}

export interface Page<T> {
  items: T[]
  total: number
}

export interface PastConversation {
  conversation: Conversation
  messages: Message[]
  has_more: boolean
}

export const customersApi = {
  panel: (conversationId: number) => http.get<Panel>(`/api/conversations/${conversationId}/panel`),
  orders: (consumerId: number, page: number, pageSize: number) =>
    http.get<Page<CustomerOrder>>(`/api/customers/${consumerId}/orders${query({ page, page_size: pageSize })}`),
  saveProfile: (consumerId: number, body: Pick<Profile, 'notes' | 'tags' | 'phone'>) =>
    http.put<Profile>(`/api/customers/${consumerId}/profile`, body),
  past: (consumerId: number, conversationId: number) =>
    http.get<PastConversation>(`/api/customers/${consumerId}/conversations/${conversationId}`),
  search: (q: string, page: number, pageSize: number) =>
    http.get<Page<FoundConsumer>>(`/api/customers/search${query({ q, page, page_size: pageSize })}`),
  startConversation: (consumerId: number) => http.post<Conversation>(`/api/customers/${consumerId}/conversations`),
}
