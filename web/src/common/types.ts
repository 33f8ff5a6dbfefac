export type Role = 'owner' | 'supervisor' | 'leader' | 'agent'
export type AgentStatus = 'online' | 'busy' | 'break' | 'offline'

export interface Account {
  id: number
  shop_id: number
  username: string
  display_name: string
  role: Role
  group_id: number | null
  has_im_permission: boolean
  status: AgentStatus
  is_suspended: boolean
  is_disabled?: boolean
  reception_limit: number
  current_load: number
  /** PRES-1: false once the last staff socket has been gone for the grace period. */
  connected?: boolean
  last_seen_at?: string | null
}

export interface Shop {
  id: number
  name: string
}

export interface Product {
  id: string | number
  title: string
  price?: string | number
  url?: string
  image?: string
}

export interface OrderItem {
  title?: string
  quantity?: number
  price?: string | number
}

export interface Order {
  id?: string | number
  order_no?: string
  title?: string
  items?: OrderItem[] | number
  item_count?: number
  amount?: string | number
  total?: string | number
  created_at?: string
  ordered_at?: string
  status?: string
  [key: string]: unknown
}

export type EntrySource = 'product' | 'order' | 'after_sale' | 'live' | 'ad' | 'direct' | 'proactive'

export interface Entry {
  source: EntrySource
  product?: Product | null
  order?: Order | null
  page_url?: string | null
  region?: string | null
  ip?: string | null
}

export type ConversationState = 'bot' | 'queued' | 'assigned' | 'ended' | 'offline'

export interface Consumer {
  id: number
  uid: string
  nickname: string
  is_vip: boolean
}

export interface ReplyWindow {
  open: boolean
  closes_at: string | null
  reason: string | null
}

export type Sender = 'consumer' | 'agent' | 'bot' | 'system'
export type MessageKind = 'text' | 'emoji' | 'system' | string

export interface Message {
  id: number
  conversation_id: number
  seq: number
  sender: Sender
  sender_id: number | null
  sender_name: string | null
  kind: MessageKind
  body: string
  client_id: string | null
  created_at: string
  meta?: MessageMeta | null
  /** Text the server wrote for people, as a code and params the client translates (MSG-1). */
  notice?: Notice | null
}

/** A system notice: `notices.<code>` in the locale files, filled with `params`. */
export interface Notice {
  code: string
  params: Record<string, string | number>
}

export type Feedback = 'pending' | 'resolved' | 'unresolved'

/** What a bot message carries (BOT-3, BOT-4): the answered question, related ones, feedback. */
export interface MessageMeta {
  question_id?: number
  related?: { question_id: number; question: string }[]
  feedback?: Feedback
  miss?: boolean
  [key: string]: unknown
}

export interface Conversation {
  id: number
  shop_id: number
  state: ConversationState
  consumer: Consumer
  agent_id: number | null
  agent_name: string | null
  group_id: number | null
  group_name: string | null
  entry: Entry
  created_at: string
  human_requested_at: string | null
  assigned_at: string | null
  ended_at: string | null
  end_cause: string | null
  last_seq: number
  last_message: Message | null
  last_consumer_message_at: string | null
  awaiting_reply_since: string | null
  is_transferred: boolean
  participants: number[]
  reply_window: ReplyWindow | null
  avg_response_s?: number | null
  /** RATE-2: the best rating (1–5), null while unrated. */
  rating?: number | null
  /** DESK-2, CONV-10: served by an agent and not yet summarised. */
  needs_summary?: boolean
}

export interface Ack {
  conversation_id: number
  seq: number
  client_id: string
  created_at: string
  /** On the socket: the stored message, which that socket gets no `message` frame for (MSG-2). */
  message?: Message
}

export interface Transfer {
  id: number
  conversation_id: number
  from_agent_id: number | null
  to_agent_id: number | null
  to_group_id: number | null
  state: 'pending' | 'accepted' | 'declined' | 'failed' | 'cancelled' | 'expired'
  created_at: string
  expires_at?: string | null
}

export interface Group {
  id: number
  name: string
}

export interface ServerError {
  code: string
  message: string
  params: Record<string, unknown>
}

/** A message as shown: server messages, plus our own sends that are not acknowledged yet. */
export interface ChatItem extends Message {
  pending?: boolean
  failed?: string | null
}
