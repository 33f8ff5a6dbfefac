/**
 * The one WebSocket of the app (staff or consumer). It owns delivery (MSG-2):
 *  - keeps each followed conversation's last contiguous seq,
 *  - after a drop reconnects with backoff and resyncs with `sync` frames, paging until has_more is false,
 *  - fills seq gaps with `sync`,
 *  - drops duplicates by (conversation_id, seq) so stores see each message once,
 *  - takes its own sent messages from their acks (the server pushes them to the other sockets),
 *  - keeps unacknowledged sends and resends them with the same client_id after reconnecting,
 *  - resends a send or request the server refused as retryable (an outage: `params.retryable`)
 *    after `retry_after_s`, doubling on repeated refusals; its caller sees only the final answer,
 *  - on a `resync` frame (the server's fan-out reconnected, so pushes may be missing) catches up
 *    as after a reconnect: `sync` from each last seq, or a reconnect (see `onResync`).
 * Stores subscribe with `on(type, fn)`; nothing else opens a socket.
 */
import { ref, type Ref } from 'vue'
import type { Ack, Message, ServerError } from '../types'
import { tabShop } from '../http'

export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export type Frame = { type: string; ref?: string; [key: string]: unknown }

/** BOT-3: the consumer's "resolved / not resolved" on a bot answer; answered by `feedback_recorded`. */
export type FeedbackFrame = { type: 'feedback'; conversation_id: number; seq: number; resolved: boolean; ref?: string }
/** BOT-6: a click on a FAQ-menu item or bot card; the bot posts the linked answer. */
export type FaqClickFrame = { type: 'faq_click'; conversation_id: number; item_id: string; ref?: string }
export type FeedbackRecordedFrame = { type: 'feedback_recorded'; conversation_id: number; seq: number; resolved: boolean; ref?: string }
type Listener = (frame: Frame) => void

interface PendingSend {
  frame: Frame
  resolve: (ack: Ack) => void
  reject: (err: ServerError) => void
  sentOn: number // connection generation it was last written on
}

interface PendingRequest {
  frame: Frame
  resolve: (frame: Frame) => void
  reject: (err: ServerError) => void
}

export interface SocketOptions {
  path: string
  /** First frame to send after the handshake (consumer auth); null for cookie-authenticated sockets. */
  authFrame?: () => Frame | null
  /** When a conversation is seen for the first time: 'history' syncs it from seq 0, 'live' starts at what arrives. */
  newConversations: 'history' | 'live'
  /**
   * On `resync`: 'sync' resyncs every followed conversation in place (the page reloads the rest
   * on the emitted `resync`); 'reconnect' reconnects, for state that only `ready` carries.
   */
  onResync: 'sync' | 'reconnect'
}

const BACKOFF_MS = [300, 800, 1500, 3000, 5000, 8000]
const PING_EVERY_MS = 15000
const PONG_TIMEOUT_MS = 8000
const TERMINAL_CODES = new Set([4401, 4403, 4409])
/** The longest wait before resending a frame refused as retryable. */
const RETRY_MAX_MS = 30000

let clientCounter = 0
export function newClientId(): string {
  clientCounter += 1
  const rnd = globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  return `c-${rnd}-${clientCounter}`
}

export class RealtimeSocket {
  readonly state: Ref<SocketState> = ref('connecting')
  /** Close code of the last terminal close (4401, 4409…), if any. */
  readonly closeCode: Ref<number | null> = ref(null)

  private ws: WebSocket | null = null
  private generation = 0
  private attempts = 0
  private stopped = false
  private everReady = false
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private pingTimer: ReturnType<typeof setInterval> | null = null
  private pongTimer: ReturnType<typeof setTimeout> | null = null
  private refCounter = 0
  /** Seconds the server asked to wait when it refused the connection (rate_limited, close 4429). */
  private retryAfterS = 0

  private readonly lastSeq = new Map<number, number>()
  private readonly seen = new Map<number, Set<number>>()
  private readonly syncing = new Set<number>()
  private readonly pendingSends = new Map<string, PendingSend>()
  private readonly pendingRequests = new Map<string, PendingRequest>()
  /** Refs of frames refused as retryable, and how many times in a row. */
  private readonly refusals = new Map<string, number>()
  private readonly listeners = new Map<string, Set<Listener>>()

  constructor(private readonly opts: SocketOptions) {}

  // ---- lifecycle -------------------------------------------------------------------------

  connect(): void {
    this.stopped = false
    this.open()
  }

  close(): void {
    this.stopped = true
    this.clearTimers()
    this.state.value = 'closed'
    this.ws?.close(1000)
    this.ws = null
  }

  private url(): string {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const shop = this.opts.path === '/ws/staff' ? tabShop() : null
    return `${proto}//${location.host}${this.opts.path}${shop === null ? '' : `?shop=${shop}`}`
  }

  private open(): void {
    if (this.stopped) return
    this.generation += 1
    const gen = this.generation
    this.state.value = this.everReady ? 'reconnecting' : 'connecting'
    let ws: WebSocket
    try {
      ws = new WebSocket(this.url())
    } catch {
      this.scheduleReconnect()
      return
    }
    this.ws = ws
    ws.onopen = () => {
      if (gen !== this.generation) return
      const auth = this.opts.authFrame?.()
      if (auth) ws.send(JSON.stringify(auth))
    }
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation) return
      let frame: Frame
      try {
        frame = JSON.parse(String(ev.data)) as Frame
      } catch {
        return
      }
      this.handle(frame)
    }
    ws.onclose = (ev: CloseEvent) => {
      if (gen !== this.generation) return
      this.ws = null
      this.clearTimers()
      if (TERMINAL_CODES.has(ev.code)) {
        this.closeCode.value = ev.code
        this.state.value = 'closed'
        this.stopped = true
        this.emit({ type: 'closed', code: ev.code })
        return
      }
      this.scheduleReconnect()
    }
    ws.onerror = () => {
      /* onclose follows */
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    this.state.value = this.everReady ? 'reconnecting' : 'connecting'
    const base = BACKOFF_MS[Math.min(this.attempts, BACKOFF_MS.length - 1)]
    this.attempts += 1
    const delay = Math.max(base + Math.floor(Math.random() * base * 0.3), this.retryAfterS * 1000)
    this.retryAfterS = 0
    this.reconnectTimer = setTimeout(() => this.open(), delay)
  }

  /** Drop the current connection and reconnect (used when a ping goes unanswered). */
  private drop(): void {
    const ws = this.ws
    this.generation += 1
    this.ws = null
    this.clearTimers()
    try {
      ws?.close(4000)
    } catch {
      /* ignore */
    }
    this.scheduleReconnect()
  }

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    if (this.pingTimer) clearInterval(this.pingTimer)
    if (this.pongTimer) clearTimeout(this.pongTimer)
    this.reconnectTimer = null
    this.pingTimer = null
    this.pongTimer = null
  }

  private startPings(): void {
    this.pingTimer = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return
      const ref = this.nextRef('p')
      this.write({ type: 'ping', ref })
      if (this.pongTimer) clearTimeout(this.pongTimer)
      this.pongTimer = setTimeout(() => this.drop(), PONG_TIMEOUT_MS)
    }, PING_EVERY_MS)
  }

  // ---- frames in -------------------------------------------------------------------------

  private handle(frame: Frame): void {
    switch (frame.type) {
      case 'ready':
        this.onReady(frame)
        return
      case 'pong':
        if (this.pongTimer) clearTimeout(this.pongTimer)
        this.pongTimer = null
        return
      case 'message':
        this.onMessage(frame.message as Message)
        return
      case 'messages':
        this.onMessages(frame)
        return
      case 'ack':
        this.onAck(frame)
        return
      case 'error':
        this.onError(frame)
        return
      case 'resync':
        this.onResync()
        break
      case 'conversation': {
        const conv = frame.conversation as { id: number; last_seq?: number } | undefined
        if (conv) this.noteConversation(conv.id, conv.last_seq ?? 0)
        break
      }
      default:
        break
    }
    this.resolveRef(frame)
    this.emit(frame)
  }

  private onReady(frame: Frame): void {
    const wasReady = this.everReady
    this.everReady = true
    this.attempts = 0
    this.state.value = 'open'
    this.startPings()
    const conv = frame.conversation as { id: number; last_seq?: number } | null | undefined
    if (conv) this.noteConversation(conv.id, conv.last_seq ?? 0)
    this.emit({ ...frame, reconnected: wasReady })
    // Catch up on everything followed, then resend what was never acknowledged.
    if (wasReady) for (const cid of this.lastSeq.keys()) this.sync(cid)
    for (const p of this.pendingSends.values()) {
      this.write(p.frame)
      p.sentOn = this.generation
    }
  }

  private onResync(): void {
    if (this.opts.onResync === 'reconnect') {
      this.attempts = 0 // the first backoff step: a short, jittered wait
      this.drop()
      return
    }
    for (const cid of this.lastSeq.keys()) this.sync(cid)
  }

  private onMessage(msg: Message | undefined): void {
    if (!msg) return
    const cid = msg.conversation_id
    if (!this.lastSeq.has(cid)) {
      if (this.opts.newConversations === 'history') {
        this.lastSeq.set(cid, 0)
      } else {
        this.lastSeq.set(cid, msg.seq - 1)
      }
    }
    if (!this.accept(msg)) return
    const last = this.lastSeq.get(cid) ?? 0
    if (msg.seq > last) {
      // A gap: something before this one is missing. While a send of ours to this conversation
      // is unanswered, it may be that message (what the send set off, e.g. the bot's answer,
      // comes before its ack): look again once the ack had time to arrive.
      if (this.sending(cid)) this.syncIfBehind(cid, msg.seq)
      else this.sync(cid)
    }
    this.emit({ type: 'message', message: msg })
  }

  private sending(cid: number): boolean {
    for (const p of this.pendingSends.values()) if (p.frame.conversation_id === cid) return true
    return false
  }

  private syncIfBehind(cid: number, seq: number): void {
    setTimeout(() => {
      if ((this.lastSeq.get(cid) ?? 0) < seq) this.sync(cid)
    }, 400)
  }

  private onMessages(frame: Frame): void {
    const cid = frame.conversation_id as number
    const items = ((frame.items as Message[] | undefined) ?? []).slice().sort((a, b) => a.seq - b.seq)
    for (const msg of items) {
      if (this.accept(msg)) this.emit({ type: 'message', message: msg, fromSync: true })
    }
    this.resolveRef(frame)
    if (frame.has_more && items.length > 0) {
      this.syncing.delete(cid)
      this.sync(cid, items[items.length - 1].seq)
    } else {
      this.syncing.delete(cid)
      this.emit({ type: 'synced', conversation_id: cid })
    }
  }

  /** Record a message as seen; false if it is a duplicate. Advances the contiguous last seq. */
  private accept(msg: Message): boolean {
    const cid = msg.conversation_id
    let set = this.seen.get(cid)
    if (!set) {
      set = new Set()
      this.seen.set(cid, set)
    }
    let last = this.lastSeq.get(cid) ?? 0
    if (set.has(msg.seq) || msg.seq <= last) return false
    set.add(msg.seq)
    while (set.has(last + 1)) last += 1
    this.lastSeq.set(cid, last)
    return true
  }

  private onAck(frame: Frame): void {
    const clientId = frame.client_id as string
    const p = this.pendingSends.get(clientId)
    if (p) this.pendingSends.delete(clientId)
    // MSG-2: the sending socket gets its own message in the ack only (no `message` frame):
    // it goes through the same path as a pushed one (duplicates dropped, a gap synced).
    this.onMessage(frame.message as Message | undefined)
    if (p) p.resolve(frame as unknown as Ack)
    this.resolveRef(frame)
    this.emit(frame)
    // An ack without its message still reveals a gap to fill.
    const cid = frame.conversation_id as number
    const seq = frame.seq as number
    const last = this.lastSeq.get(cid)
    if (last !== undefined && seq > last && !this.seen.get(cid)?.has(seq)) {
      setTimeout(() => {
        const now = this.lastSeq.get(cid) ?? 0
        if (seq > now && !this.seen.get(cid)?.has(seq)) this.sync(cid)
      }, 400)
    }
  }

  private onError(frame: Frame): void {
    const ref = frame.ref
    const err: ServerError = {
      code: String(frame.code ?? 'unknown'),
      message: String(frame.message ?? ''),
      params: (frame.params as Record<string, unknown>) ?? {},
    }
    if (!ref && err.code === 'rate_limited') this.retryAfterS = Number(err.params.retry_after) || 0
    if (ref && err.params.retryable === true && this.resendLater(ref, err)) return
    if (ref) {
      this.refusals.delete(ref)
      for (const [clientId, p] of this.pendingSends) {
        if (p.frame.ref === ref) {
          this.pendingSends.delete(clientId)
          p.reject(err)
        }
      }
      const req = this.pendingRequests.get(ref)
      if (req) {
        this.pendingRequests.delete(ref)
        req.reject(err)
      }
    }
    this.emit(frame)
  }

  /**
   * The server could not take a frame for now (PROTOCOL "Outages"): the same frame goes again
   * after `retry_after_s`, doubled on each refusal in a row, while its caller still waits (a send
   * until acked, a request until its timeout). A send refused while the socket is down goes
   * again on the next `ready`. False if nobody waits for it.
   */
  private resendLater(ref: string, err: ServerError): boolean {
    const waiting = (): Frame | undefined => {
      for (const p of this.pendingSends.values()) if (p.frame.ref === ref) return p.frame
      return this.pendingRequests.get(ref)?.frame
    }
    const frame = waiting()
    if (!frame) return false
    const refusals = (this.refusals.get(ref) ?? 0) + 1
    this.refusals.set(ref, refusals)
    const firstMs = Math.max(Number(err.params.retry_after_s) || 1, 0.1) * 1000
    const delay = Math.min(firstMs * 2 ** (refusals - 1), RETRY_MAX_MS)
    setTimeout(() => {
      if (waiting() === frame) this.write(frame)
      else this.refusals.delete(ref)
    }, delay * (0.8 + Math.random() * 0.4))
    return true
  }

  private resolveRef(frame: Frame): void {
    if (!frame.ref) return
    this.refusals.delete(frame.ref)
    const req = this.pendingRequests.get(frame.ref)
    if (req) {
      this.pendingRequests.delete(frame.ref)
      req.resolve(frame)
    }
  }

  private noteConversation(cid: number, lastSeq: number): void {
    if (!this.lastSeq.has(cid)) {
      if (this.opts.newConversations === 'history') {
        this.lastSeq.set(cid, 0)
        if (lastSeq > 0) this.sync(cid)
      } else {
        this.lastSeq.set(cid, lastSeq)
      }
      return
    }
    if (lastSeq > (this.lastSeq.get(cid) ?? 0)) this.sync(cid)
  }

  // ---- frames out ------------------------------------------------------------------------

  private nextRef(prefix: string): string {
    this.refCounter += 1
    return `${prefix}${this.refCounter}`
  }

  private write(frame: Frame): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state.value !== 'open') return false
    this.ws.send(JSON.stringify(frame))
    return true
  }

  get isOpen(): boolean {
    return this.state.value === 'open'
  }

  /** Follow a conversation from a known seq (e.g. after loading its history over HTTP). */
  track(cid: number, knownSeq: number): void {
    const cur = this.lastSeq.get(cid)
    if (cur === undefined || knownSeq > cur) {
      this.lastSeq.set(cid, knownSeq)
    }
    if (!this.seen.has(cid)) this.seen.set(cid, new Set())
  }

  lastSeqOf(cid: number): number | undefined {
    return this.lastSeq.get(cid)
  }

  /** Ask for everything after our last seq (or `since`), paging until has_more is false. */
  sync(cid: number, since?: number): void {
    if (since === undefined && this.syncing.has(cid)) return
    this.syncing.add(cid)
    const from = since ?? this.lastSeq.get(cid) ?? 0
    if (!this.write({ type: 'sync', ref: this.nextRef('y'), conversation_id: cid, since_seq: from })) {
      this.syncing.delete(cid) // resynced on the next ready
    }
  }

  /** A fire-and-forget frame (typing, open…); dropped while disconnected. */
  send(frame: Frame): boolean {
    return this.write(frame)
  }

  /** A frame whose answer (same ref) resolves the promise; rejects on an error frame. */
  request(frame: Frame, timeoutMs = 10000): Promise<Frame> {
    const ref = frame.ref ?? this.nextRef('r')
    const out: Frame = { ...frame, ref }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingRequests.delete(ref)
        reject({ code: 'timeout', message: 'timeout', params: {} } satisfies ServerError)
      }, timeoutMs)
      this.pendingRequests.set(ref, {
        frame: out,
        resolve: (f) => {
          clearTimeout(timer)
          resolve(f)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      if (!this.write(out)) {
        clearTimeout(timer)
        this.pendingRequests.delete(ref)
        reject({ code: 'network', message: 'not connected', params: {} } satisfies ServerError)
      }
    })
  }

  /**
   * Send a chat message. It stays pending until acked and is resent with the same client_id
   * after every reconnect, so it is delivered exactly once.
   */
  sendMessage(conversationId: number, kind: string, body: string, clientId = newClientId()): { clientId: string; acked: Promise<Ack> } {
    const frame: Frame = { type: 'send', ref: this.nextRef('s'), conversation_id: conversationId, client_id: clientId, kind, body }
    const acked = new Promise<Ack>((resolve, reject) => {
      const p: PendingSend = { frame, resolve, reject, sentOn: 0 }
      this.pendingSends.set(clientId, p)
      if (this.write(frame)) p.sentOn = this.generation
    })
    return { clientId, acked }
  }

  get pendingCount(): number {
    return this.pendingSends.size
  }

  // ---- subscriptions ---------------------------------------------------------------------

  on(type: string, fn: Listener): () => void {
    let set = this.listeners.get(type)
    if (!set) {
      set = new Set()
      this.listeners.set(type, set)
    }
    set.add(fn)
    return () => set?.delete(fn)
  }

  private emit(frame: Frame): void {
    for (const fn of this.listeners.get(frame.type) ?? []) {
      try {
        fn(frame)
      } catch (e) {
        console.error(e)
      }
    }
    for (const fn of this.listeners.get('*') ?? []) fn(frame)
  }
}

let staff: RealtimeSocket | null = null
let consumer: RealtimeSocket | null = null

/** The staff socket (cookie-authenticated), created on first use. */
export function staffSocket(): RealtimeSocket {
  staff ??= new RealtimeSocket({ path: '/ws/staff', newConversations: 'live', onResync: 'sync' })
  return staff
}

export function resetStaffSocket(): void {
  staff?.close()
  staff = null
}

/** The consumer socket; `auth` supplies the first frame with the consumer token. */
export function consumerSocket(auth: () => Frame | null): RealtimeSocket {
  consumer ??= new RealtimeSocket({
    path: '/ws/consumer',
    authFrame: auth,
    newConversations: 'history',
    onResync: 'reconnect',
  })
  return consumer
}

export function resetConsumerSocket(): void {
  consumer?.close()
  consumer = null
}
