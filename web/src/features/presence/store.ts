import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { Account, AgentStatus } from '@/common/types'
import { now } from '@/common/time'
import { useSessionStore } from '@/features/auth/store'
import { presenceApi, type WorkStats } from './api'

/** The agent's own presence (PRES-1), reception limit (PRES-2) and work statistics (PRES-3). */
export const usePresenceStore = defineStore('presence', () => {
  const session = useSessionStore()
  const stats = ref<WorkStats | null>(null)
  const statsAt = ref(0)
  let timer: ReturnType<typeof setInterval> | null = null

  const status = computed<AgentStatus>(() => session.account?.status ?? 'offline')
  const limit = computed(() => session.account?.reception_limit ?? 3)
  const load = computed(() => session.account?.current_load ?? 0)

  function apply(a: Account): void {
    session.setAccount(a)
  }

  async function setStatus(s: AgentStatus): Promise<void> {
    const res = await presenceApi.setStatus(s)
    apply(res.account)
    void refreshStats()
  }

  async function setLimit(n: number): Promise<void> {
    const res = await presenceApi.setLimit(n)
    apply(res.account)
  }

  async function refreshStats(): Promise<void> {
    try {
      stats.value = await presenceApi.stats()
      statsAt.value = Date.now()
    } catch {
      /* shown as "—" */
    }
  }

  /** Counters tick locally between refreshes (every 30 s from the server). */
  const onlineSeconds = computed(() => {
    if (!stats.value) return null
    const live = status.value === 'online' || status.value === 'busy'
    return stats.value.online_seconds + (live ? Math.max(0, (now.value - statsAt.value) / 1000) : 0)
  })
  const loginSeconds = computed(() => {
    if (!stats.value) return null
    const live = status.value !== 'offline'
    return stats.value.login_seconds + (live ? Math.max(0, (now.value - statsAt.value) / 1000) : 0)
  })

  function startPolling(): void {
    stopPolling()
    void refreshStats()
    timer = setInterval(() => void refreshStats(), 30000)
  }

  function stopPolling(): void {
    if (timer) clearInterval(timer)
    timer = null
  }

  return { stats, status, limit, load, onlineSeconds, loginSeconds, apply, setStatus, setLimit, refreshStats, startPolling, stopPolling }
})
