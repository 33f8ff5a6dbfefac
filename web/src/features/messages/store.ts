import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ChatItem, Message, Sender } from '@/common/types'
import { errorText } from '@/common/i18n'
import type { RealtimeSocket } from '@/common/realtime/socket'
import type { ServerError } from '@/common/types'
import { messagesApi } from './api'

interface Meta {
  loaded: boolean
  loading: boolean
  hasOlder: boolean
  loadingOlder: boolean
}

const PAGE = 30

function order(a: ChatItem, b: ChatItem): number {
  // Unacknowledged sends stay at the end, in the order they were typed.
  const sa = a.pending || a.failed ? Number.MAX_SAFE_INTEGER : a.seq
  const sb = b.pending || b.failed ? Number.MAX_SAFE_INTEGER : b.seq
  return sa - sb || a.id - b.id
}

let localId = -1

/** Messages per conversation: history pages, live messages, pending sends, typing previews. */
export const useMessagesStore = defineStore('messages', () => {
  const items = ref<Record<number, ChatItem[]>>({})
  const meta = ref<Record<number, Meta>>({})
  const typing = ref<Record<number, string>>({})
  const typingTimers: Record<number, ReturnType<typeof setTimeout>> = {}

  function metaOf(cid: number): Meta {
    meta.value[cid] ??= { loaded: false, loading: false, hasOlder: true, loadingOlder: false }
    return meta.value[cid]
  }

  /** Insert a server message once (deduped by seq; replaces our pending copy by client_id). */
  function ingest(m: Message): boolean {
    const list = (items.value[m.conversation_id] ??= [])
    if (list.some((x) => !x.pending && !x.failed && x.seq === m.seq)) return false
    const mineIdx = m.client_id ? list.findIndex((x) => x.client_id === m.client_id) : -1
    if (mineIdx >= 0) list.splice(mineIdx, 1, { ...m })
    else list.push({ ...m })
    list.sort(order)
    if (m.sender === 'consumer') setTyping(m.conversation_id, '')
    return true
  }

  function ingestMany(ms: Message[]): void {
    for (const m of ms) ingest(m)
  }

  function setTyping(cid: number, text: string): void {
    if (typingTimers[cid]) clearTimeout(typingTimers[cid])
    typing.value[cid] = text
    if (text) typingTimers[cid] = setTimeout(() => (typing.value[cid] = ''), 8000)
  }

  /** The latest page plus anything newer (HTTP); the socket follows from there. */
  async function loadLatest(cid: number, lastSeq: number, socket: RealtimeSocket | null): Promise<void> {
    const m = metaOf(cid)
    if (m.loaded || m.loading) return
    m.loading = true
    try {
      let since = Math.max(0, lastSeq - PAGE)
      for (;;) {
        const res = await messagesApi.since(cid, since, 200)
        ingestMany(res.items)
        if (!res.has_more || res.items.length === 0) break
        since = res.items[res.items.length - 1].seq
      }
      const list = items.value[cid] ?? []
      const known = list.filter((x) => !x.pending && !x.failed)
      m.hasOlder = known.length > 0 ? known[0].seq > 1 : lastSeq > PAGE
      m.loaded = true
      const maxSeq = known.length ? known[known.length - 1].seq : 0
      socket?.track(cid, maxSeq)
      if (socket && (socket.lastSeqOf(cid) ?? 0) < maxSeq) socket.track(cid, maxSeq)
    } finally {
      m.loading = false
    }
  }

  /** Infinite scroll upwards (before_seq). */
  async function loadOlder(cid: number): Promise<number> {
    const m = metaOf(cid)
    if (m.loadingOlder || !m.hasOlder) return 0
    const list = items.value[cid] ?? []
    const oldest = list.find((x) => !x.pending && !x.failed)
    if (!oldest || oldest.seq <= 1) {
      m.hasOlder = false
      return 0
    }
    m.loadingOlder = true
    try {
      const res = await messagesApi.before(cid, oldest.seq, PAGE)
      let added = 0
      for (const msg of res.items) if (ingest(msg)) added += 1
      const first = (items.value[cid] ?? []).find((x) => !x.pending && !x.failed)
      m.hasOlder = added > 0 && !!first && first.seq > 1 && res.has_more !== false
      return added
    } finally {
      m.loadingOlder = false
    }
  }

  /** Send through the socket: shown at once as pending, confirmed by the ack (MSG-2). */
  function send(socket: RealtimeSocket, cid: number, kind: string, body: string, sender: Sender, senderName: string | null): Promise<void> {
    const { clientId, acked } = socket.sendMessage(cid, kind, body)
    const item: ChatItem = {
      id: localId--,
      conversation_id: cid,
      seq: 0,
      sender,
      sender_id: null,
      sender_name: senderName,
      kind,
      body,
      client_id: clientId,
      created_at: new Date().toISOString(),
      pending: true,
    }
    ;(items.value[cid] ??= []).push(item)
    return acked.then(
      (ack) => {
        const list = items.value[cid] ?? []
        const idx = list.findIndex((x) => x.client_id === clientId && (x.pending || x.failed))
        if (idx < 0) return
        if (list.some((x) => !x.pending && x.seq === ack.seq)) list.splice(idx, 1)
        else list.splice(idx, 1, { ...list[idx], seq: ack.seq, created_at: ack.created_at, pending: false })
        list.sort(order)
      },
      (err: ServerError) => {
        const list = items.value[cid] ?? []
        const it = list.find((x) => x.client_id === clientId)
        if (it) {
          it.pending = false
          it.failed = errorText(err.code, err.params)
        }
        throw err
      },
    )
  }

  function reset(): void {
    items.value = {}
    meta.value = {}
    typing.value = {}
  }

  return { items, meta, typing, metaOf, ingest, ingestMany, setTyping, loadLatest, loadOlder, send, reset }
})
