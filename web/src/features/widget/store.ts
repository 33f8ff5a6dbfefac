import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import { consumerSocket, resetConsumerSocket, type FaqClickFrame, type FeedbackFrame, type FeedbackRecordedFrame, type Frame, type RealtimeSocket } from '@/common/realtime/socket'
import type { ChatItem, Conversation, Entry, Feedback, Message } from '@/common/types'
import { describeError } from '@/common/errors'
import { ApiError } from '@/common/http'
import { useMessagesStore } from '@/features/messages/store'
import { widgetApi, type PublicEntry, type SignedIdentity } from './api'

/** BOT-5: the consumer picked a question offered in the bot's message at `seq`. */
type SuggestionClickFrame = { type: 'suggestion_click'; conversation_id: number; seq: number; question_id: number; ref?: string }

const TYPING_EVERY_MS = 300
/** How long a human request or leaving the queue is resent through an outage before giving up. */
const REQUEST_HUMAN_TIMEOUT_MS = 30000

/** The consumer's side of the chat: session token, socket, conversation, queue (ROUTE-4). */
export interface PageVisit {
  url: string
  title: string
  at: string
}

export const useWidgetStore = defineStore('widget', () => {
  const msgs = useMessagesStore()
  const shopId = ref(0)
  const token = ref<string | null>(null)
  /** The buyer the shop's site signed in, if any: the chat is theirs, not an anonymous one. */
  let identity: SignedIdentity | null = null
  const nickname = ref('')
  const conversation = ref<Conversation | null>(null)
  const conversationIds = ref<number[]>([])
  const queue = ref<{ position: number; estimated_wait_s: number | null; agents_online: boolean } | null>(null)
  const entry = ref<Entry>({ source: 'direct' })
  const failed = ref<string | null>(null)
  /** What to tell the consumer when `failed` has a reason they can act on (rate_limited: wait). */
  const failedMessage = ref<string | null>(null)
  const humanRequested = ref(false)
  const shopEntry = ref<PublicEntry | null>(null)
  /** BOT-3 feedback given in this page, by `${conversation_id}:${seq}`, until the message says so. */
  const feedback = ref<Record<string, Feedback | 'sending'>>({})
  let socket: RealtimeSocket | null = null
  let opened = false
  let retriedAuth = false
  let waiters: ((c: Conversation) => void)[] = []
  let typingTimer: ReturnType<typeof setTimeout> | null = null
  let typingLastSent = 0
  let typingText = ''

  const socketRef = shallowRef<RealtimeSocket | null>(null)
  const state = computed(() => socketRef.value?.state.value ?? 'connecting')
  const items = computed<ChatItem[]>(() => conversationIds.value.flatMap((id) => msgs.items[id] ?? []))
  // OFFL-1: an offline message stays open: the consumer writes their message into it.
  const live = computed(() => !!conversation.value && conversation.value.state !== 'ended')

  function tokenKey(): string {
    return identity ? `kefu.consumer.${shopId.value}.${identity.uid}` : `kefu.consumer.${shopId.value}`
  }

  async function ensureToken(forceNew = false): Promise<void> {
    if (!forceNew) token.value = localStorage.getItem(tokenKey())
    if (!token.value || forceNew) {
      const res = await widgetApi.session(shopId.value, identity)
      token.value = res.token
      nickname.value = res.consumer?.nickname ?? ''
      localStorage.setItem(tokenKey(), res.token)
    }
  }

  function follow(c: Conversation): void {
    if (!conversationIds.value.includes(c.id)) conversationIds.value.push(c.id)
    if (!conversation.value || c.id >= conversation.value.id) {
      conversation.value = c
      // The place in the queue comes in `queue` frames only (ROUTE-4).
      if (c.state !== 'queued') queue.value = null
      if (c.state === 'ended' || c.state === 'offline') humanRequested.value = false
      if (c.state === 'assigned' || c.state === 'queued') humanRequested.value = true
    }
    if (c.state !== 'ended') {
      const ws = waiters
      waiters = []
      for (const w of ws) w(c)
    }
  }

  async function start(shop: number, e: Entry, signed: SignedIdentity | null = null): Promise<void> {
    shopId.value = shop
    identity = signed
    entry.value = e
    void widgetApi
      .entry(shop)
      .then((x) => (shopEntry.value = x))
      .catch(() => (shopEntry.value = null))
    try {
      await ensureToken()
    } catch (err) {
      failed.value = 'network'
      if (err instanceof ApiError && err.code === 'rate_limited') failedMessage.value = describeError(err)
      return
    }
    socket = consumerSocket(() => (token.value ? { type: 'auth', shop_id: shopId.value, token: token.value } : null))
    socketRef.value = socket
    socket.on('ready', (f: Frame) => {
      const consumer = f.consumer as { nickname?: string } | undefined
      if (consumer?.nickname) nickname.value = consumer.nickname
      const c = f.conversation as Conversation | null
      if (c) follow(c)
      if (!opened) {
        opened = true
        openConversation()
      }
    })
    socket.on('conversation', (f: Frame) => follow(f.conversation as Conversation))
    socket.on('message', (f: Frame) => {
      const m = f.message as Message
      if (!conversationIds.value.includes(m.conversation_id)) conversationIds.value.push(m.conversation_id)
      msgs.ingest(m)
    })
    socket.on('feedback_recorded', (f: Frame) => recordFeedback(f as unknown as FeedbackRecordedFrame))
    socket.on('queue', (f: Frame) => {
      queue.value = { position: Number(f.position), estimated_wait_s: (f.estimated_wait_s as number | null) ?? null, agents_online: f.agents_online !== false }
    })
    socket.on('closed', (f: Frame) => {
      if (f.code === 4401 && !retriedAuth) {
        retriedAuth = true
        void (async () => {
          try {
            await ensureToken(true)
            resetConsumerSocket()
            opened = false
            await start(shop, e)
          } catch {
            failed.value = 'auth'
          }
        })()
      }
    })
    socket.connect()
  }

  function openConversation(): void {
    const e = entry.value
    const frame: Frame = { type: 'open', entry: { ...e } }
    socket?.send(frame)
  }

  /** Wait for a live conversation, opening a new one after an end (CONV-5). */
  function liveConversation(): Promise<Conversation> {
    if (live.value && conversation.value) return Promise.resolve(conversation.value)
    return new Promise((resolve, reject) => {
      waiters.push(resolve)
      openConversation()
      setTimeout(() => reject({ code: 'timeout', message: '', params: {} }), 10000)
    })
  }

  async function send(kind: string, body: string): Promise<void> {
    if (!socket) return
    const c = await liveConversation()
    if (!conversationIds.value.includes(c.id)) conversationIds.value.push(c.id)
    clearTyping()
    await msgs.send(socket, c.id, kind, body, 'consumer', nickname.value)
  }

  /** ROUTE-1: answered with the conversation, queued or assigned; resent through an outage. */
  function requestHuman(): void {
    humanRequested.value = true
    const ask = async (): Promise<void> => {
      if (!live.value) await liveConversation()
      await socket?.request({ type: 'request_human' }, REQUEST_HUMAN_TIMEOUT_MS)
    }
    ask().catch(() => {
      // Refused (a limit) or unanswered: the button comes back unless the state came meanwhile.
      const state = conversation.value?.state
      humanRequested.value = state === 'queued' || state === 'assigned'
    })
  }

  function recordFeedback(f: FeedbackRecordedFrame, asked?: boolean): void {
    const resolved = typeof f.resolved === 'boolean' ? f.resolved : asked
    if (resolved === undefined) return
    const value: Feedback = resolved ? 'resolved' : 'unresolved'
    feedback.value[`${f.conversation_id}:${f.seq}`] = value
    const m = (msgs.items[f.conversation_id] ?? []).find((x) => x.seq === f.seq && !x.pending)
    if (m) m.meta = { ...(m.meta ?? {}), feedback: value }
  }

  function feedbackOf(m: ChatItem): Feedback | 'sending' | null {
    return feedback.value[`${m.conversation_id}:${m.seq}`] ?? m.meta?.feedback ?? null
  }

  /** RATE-1/2: this page's ratings, by `${conversation_id}:${card seq or 'self'}`. */
  const ratings = ref<Record<string, number>>({})

  /** RATE-1/2: rate the conversation's agent, on one's own (no card) or answering a card. */
  async function rate(conversationId: number, stars: number, cardSeq: number | null = null): Promise<void> {
    if (!socket) return
    const frame: Frame = { type: 'rate', conversation_id: conversationId, stars }
    if (cardSeq !== null) frame.card_seq = cardSeq
    await socket.request(frame)
    ratings.value[`${conversationId}:${cardSeq ?? 'self'}`] = stars
  }

  /** BOT-3: "resolved / not resolved" on a bot answer, once per answer. */
  async function giveFeedback(m: ChatItem, resolved: boolean): Promise<void> {
    if (!socket) return
    const key = `${m.conversation_id}:${m.seq}`
    feedback.value[key] = 'sending'
    const frame: FeedbackFrame = { type: 'feedback', conversation_id: m.conversation_id, seq: m.seq, resolved }
    try {
      const answer = await socket.request(frame)
      if (answer.type === 'feedback_recorded') recordFeedback({ ...(answer as unknown as FeedbackRecordedFrame), conversation_id: m.conversation_id, seq: m.seq }, resolved)
    } catch (err) {
      if (feedback.value[key] !== 'sending') return // recorded through the pushed frame
      feedback.value[key] = m.meta?.feedback ?? 'pending'
      throw err
    }
  }

  /**
   * ENTRY-2, BOT-6: a FAQ item or bot card; the bot answers its linked question. A top-level
   * item is only counted, so it never opens a conversation of its own (`open: false`).
   */
  async function faqClick(item: { id?: string }, open = true): Promise<void> {
    if (!socket || !item.id) return
    if (!open && !live.value) return
    const c = await liveConversation()
    if (!conversationIds.value.includes(c.id)) conversationIds.value.push(c.id)
    const frame: FaqClickFrame = { type: 'faq_click', conversation_id: c.id, item_id: item.id }
    await socket.request(frame)
  }

  /**
   * BOT-5, BOT-6: a question the bot offered in its message `m` ("did you mean" after a miss,
   * or an answer's related questions); the bot answers it and counts the answer as a hit. An
   * offer from a conversation that has ended is asked again as text.
   */
  async function pickSuggestion(m: ChatItem, question: { question_id: number; question: string }): Promise<void> {
    const c = conversation.value
    if (!socket || !c || !live.value || c.id !== m.conversation_id || m.seq == null) {
      await send('text', question.question)
      return
    }
    const frame: SuggestionClickFrame = { type: 'suggestion_click', conversation_id: c.id, seq: m.seq, question_id: question.question_id }
    await socket.request(frame)
  }

  function leaveQueue(): void {
    socket?.request({ type: 'leave_queue' }, REQUEST_HUMAN_TIMEOUT_MS).catch(() => undefined)
    queue.value = null
  }

  /** MSG-3: the unsent text, at most every 300 ms, with the last state always sent. */
  function typing(text: string): void {
    typingText = text
    if (!socket || !conversation.value || !live.value) return
    const cid = conversation.value.id
    const fire = () => {
      typingTimer = null
      typingLastSent = Date.now()
      socket?.send({ type: 'typing', conversation_id: cid, text: typingText.slice(0, 500) })
    }
    const wait = TYPING_EVERY_MS - (Date.now() - typingLastSent)
    if (wait <= 0 && !typingTimer) fire()
    else if (!typingTimer) typingTimer = setTimeout(fire, Math.max(0, wait))
  }

  function clearTyping(): void {
    if (typingTimer) clearTimeout(typingTimer)
    typingTimer = null
    typingText = ''
  }

  /** DESK-5: pages of the shop's site the consumer viewed, reported by the embedding page;
   *  each is sent once per conversation, while one is live. */
  const pages = ref<PageVisit[]>([])
  const sentPages = new Set<string>()

  function reportPages(list: PageVisit[]): void {
    pages.value = list.slice(-20)
    flushPages()
  }

  function flushPages(): void {
    const c = conversation.value
    if (!socket || !c || !live.value) return
    for (const p of pages.value) {
      const key = `${c.id}|${p.url}|${p.at}`
      if (sentPages.has(key)) continue
      sentPages.add(key)
      socket.send({ type: 'page_view', conversation_id: c.id, url: p.url, title: p.title, at: p.at })
    }
  }

  watch(() => [conversation.value?.id, live.value], flushPages)

  return {
    reportPages,
    shopId,
    token,
    nickname,
    conversation,
    conversationIds,
    queue,
    entry,
    failed,
    failedMessage,
    humanRequested,
    shopEntry,
    state,
    items,
    live,
    start,
    send,
    requestHuman,
    leaveQueue,
    typing,
    feedbackOf,
    giveFeedback,
    faqClick,
    pickSuggestion,
    ratings,
    rate,
  }
})
