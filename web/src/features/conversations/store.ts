import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { Conversation, Message } from '@/common/types'
import { parseTime } from '@/common/time'
import { useSessionStore } from '@/features/auth/store'
import { conversationsApi, type Scope } from './api'

export type Tab = 'mine' | 'recent' | 'colleagues' | 'history'

let tick = 0

/** Conversations known to the workbench, the tabs' lists, unread counters and the smart switch. */
export const useConversationsStore = defineStore('conversations', () => {
  const session = useSessionStore()
  const byId = ref<Record<number, Conversation>>({})
  const mineIds = ref<number[]>([])
  const tabIds = ref<Record<Exclude<Tab, 'mine'>, number[]>>({ recent: [], colleagues: [], history: [] })
  const tabLoading = ref(false)
  const unread = ref<Record<number, number>>({})
  const unanswered = ref<Record<number, number>>({})
  /** [time of last activity, local arrival order] for a stable most-recent-first order. */
  const activity = ref<Record<number, [number, number]>>({})
  const currentId = ref<number | null>(null)
  const closed = ref<Set<number>>(new Set())

  const handedOver = new Set<number>()
  const me = computed(() => session.account?.id ?? null)

  function closedKey(): string {
    return `kefu.closed.${session.account?.shop_id ?? 0}.${me.value ?? 0}`
  }
  function loadClosed(): void {
    try {
      const raw = localStorage.getItem(closedKey())
      closed.value = new Set(raw ? (JSON.parse(raw) as number[]) : [])
    } catch {
      closed.value = new Set()
    }
  }
  function saveClosed(): void {
    localStorage.setItem(closedKey(), JSON.stringify([...closed.value].slice(-500)))
  }

  function isMine(c: Conversation): boolean {
    const id = me.value
    if (id === null) return false
    return c.agent_id === id || (c.participants ?? []).includes(id)
  }

  function activityOf(c: Conversation): number {
    const times = [c.last_message?.created_at, c.ended_at, c.assigned_at, c.created_at].map(parseTime).filter((t): t is number => t !== null)
    return times.length ? Math.max(...times) : 0
  }

  function touch(id: number, time: number): void {
    tick += 1
    const prev = activity.value[id]
    activity.value[id] = [Math.max(time, prev?.[0] ?? 0), tick]
  }

  /** Merge a conversation from HTTP or a `conversation` frame. Returns true if it newly became mine. */
  function upsert(c: Conversation, live = false): boolean {
    const prev = byId.value[c.id]
    const merged = { ...prev, ...c, last_message: c.last_message ?? prev?.last_message ?? null }
    if (prev && (c.last_seq ?? 0) < (prev.last_seq ?? 0)) {
      // A snapshot older than messages already seen (an HTTP list answered late, a frame
      // overtaken by a message): it must not roll back what those messages established.
      merged.last_seq = prev.last_seq
      merged.last_message = prev.last_message
      merged.awaiting_reply_since = prev.awaiting_reply_since
      merged.last_consumer_message_at = prev.last_consumer_message_at
    }
    byId.value[c.id] = merged
    const t = activityOf(byId.value[c.id])
    if (!activity.value[c.id] || t > activity.value[c.id][0] || live) touch(c.id, t)
    let becameMine = false
    if (handedOver.has(c.id) && c.agent_id !== me.value) return false
    if (isMine(c) && (c.state === 'assigned' || c.state === 'ended')) {
      if (!mineIds.value.includes(c.id) && !closed.value.has(c.id)) {
        if (c.state === 'assigned' || live) {
          mineIds.value.push(c.id)
          becameMine = c.state === 'assigned'
          if (live && c.state === 'assigned') {
            const lm = c.last_message
            unread.value[c.id] = lm && lm.sender === 'consumer' ? Math.max(unread.value[c.id] ?? 0, 1) : unread.value[c.id] ?? 0
          }
        }
      }
    } else if (mineIds.value.includes(c.id) && !isMine(c)) {
      mineIds.value = mineIds.value.filter((x) => x !== c.id)
    }
    if (c.state === 'ended' && prev && prev.state !== 'ended' && isMine(c)) {
      tabIds.value.history = [c.id, ...tabIds.value.history.filter((x) => x !== c.id)]
    }
    return becameMine
  }

  /** A new message in a conversation: last message, order, unread and unanswered counters. */
  function onMessage(m: Message, onScreen: boolean): void {
    const c = byId.value[m.conversation_id]
    if (c) {
      if (!c.last_message || m.seq >= c.last_message.seq) {
        c.last_message = m
        c.last_seq = Math.max(c.last_seq ?? 0, m.seq)
      }
      if (m.sender === 'consumer') {
        c.awaiting_reply_since ??= m.created_at
        c.last_consumer_message_at = m.created_at
      } else if (m.sender === 'agent') {
        c.awaiting_reply_since = null
      }
    }
    touch(m.conversation_id, parseTime(m.created_at) ?? Date.now())
    if (m.sender === 'consumer') {
      unanswered.value[m.conversation_id] = (unanswered.value[m.conversation_id] ?? 0) + 1
      if (!onScreen) unread.value[m.conversation_id] = (unread.value[m.conversation_id] ?? 0) + 1
    } else if (m.sender === 'agent') {
      unanswered.value[m.conversation_id] = 0
    }
  }

  function byActivity(ids: number[]): Conversation[] {
    return ids
      .map((id) => byId.value[id])
      .filter((c): c is Conversation => !!c)
      .sort((a, b) => {
        const [ta, ka] = activity.value[a.id] ?? [0, 0]
        const [tb, kb] = activity.value[b.id] ?? [0, 0]
        return tb - ta || kb - ka || b.id - a.id
      })
  }

  const mine = computed(() => byActivity(mineIds.value))
  const endedMine = computed(() => mine.value.filter((c) => c.state === 'ended'))
  const current = computed(() => (currentId.value === null ? null : byId.value[currentId.value] ?? null))

  function list(tab: Tab): Conversation[] {
    if (tab === 'mine') return mine.value
    return byActivity(tabIds.value[tab])
  }

  async function loadMine(): Promise<void> {
    loadClosed()
    const res = await conversationsApi.list('mine', 1, 100)
    const ids: number[] = []
    for (const c of res.items) {
      upsert(c)
      if (!closed.value.has(c.id) && (isMine(c) || c.agent_id === me.value)) ids.push(c.id)
    }
    // Keep live-added ones the server list does not know yet.
    for (const id of mineIds.value) if (!ids.includes(id) && byId.value[id]?.state === 'assigned') ids.push(id)
    mineIds.value = ids
  }

  async function loadTab(tab: Exclude<Tab, 'mine'>): Promise<void> {
    tabLoading.value = true
    try {
      const res = await conversationsApi.list(tab as Scope, 1, 50)
      for (const c of res.items) upsert(c)
      tabIds.value[tab] = res.items.map((c) => c.id)
    } finally {
      tabLoading.value = false
    }
  }

  function select(id: number | null): void {
    currentId.value = id
    if (id !== null) unread.value[id] = 0
  }

  function close(id: number): void {
    closed.value.add(id)
    saveClosed()
    mineIds.value = mineIds.value.filter((x) => x !== id)
    if (currentId.value === id) currentId.value = null
  }

  /** A conversation transferred away: off my list, and off the screen. */
  function handOver(id: number): void {
    mineIds.value = mineIds.value.filter((x) => x !== id)
    handedOver.add(id)
    if (currentId.value === id) currentId.value = null
  }

  function closeAllEnded(): number {
    const ids = endedMine.value.map((c) => c.id)
    for (const id of ids) close(id)
    return ids.length
  }

  /**
   * DESK-3 smart switch: a VIP consumer first; among several, the longest waiting; then the most
   * unanswered messages; then any. Candidates are my live conversations other than the current one,
   * preferring those waiting for a reply.
   */
  function smartPick(): number | null {
    const live = mine.value.filter((c) => c.state === 'assigned' && c.id !== currentId.value)
    const waiting = live.filter((c) => c.awaiting_reply_since)
    const pool = waiting.length ? waiting : live
    if (!pool.length) return null
    const waitStart = (c: Conversation) => parseTime(c.awaiting_reply_since) ?? Number.MAX_SAFE_INTEGER
    const sorted = [...pool].sort(
      (a, b) =>
        Number(!!b.consumer?.is_vip) - Number(!!a.consumer?.is_vip) ||
        waitStart(a) - waitStart(b) ||
        (unanswered.value[b.id] ?? 0) - (unanswered.value[a.id] ?? 0),
    )
    return sorted[0].id
  }

  function reset(): void {
    byId.value = {}
    mineIds.value = []
    tabIds.value = { recent: [], colleagues: [], history: [] }
    unread.value = {}
    unanswered.value = {}
    activity.value = {}
    currentId.value = null
  }

  return {
    byId, mineIds, tabIds, tabLoading, unread, unanswered, currentId, current, mine, endedMine,
    isMine, upsert, handOver, onMessage, list, loadMine, loadTab, select, close, closeAllEnded, smartPick, reset,
  }
})
