import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { Account, Group } from '@/common/types'
import { staffApi } from './api'

/** The shop's accounts and groups, as the staff pages show and change them. */
export const useStaffStore = defineStore('staff', () => {
  const agents = ref<Account[]>([])
  const groups = ref<Group[]>([])

  async function load(): Promise<void> {
    const [a, g] = await Promise.all([staffApi.agents(), staffApi.groups()])
    agents.value = a.items
    groups.value = g.items
  }

  async function loadGroups(): Promise<void> {
    groups.value = (await staffApi.groups()).items
  }

  /** Put changed accounts (from a write's answer) in place, or add new ones. */
  function upsert(changed: Account[]): void {
    const byId = new Map(changed.map((a) => [a.id, a]))
    const kept = agents.value.map((a) => byId.get(a.id) ?? a)
    const known = new Set(kept.map((a) => a.id))
    agents.value = [...kept, ...changed.filter((a) => !known.has(a.id))]
  }

  function groupName(id: number | null | undefined): string | null {
    if (id === null || id === undefined) return null
    return groups.value.find((g) => g.id === id)?.name ?? null
  }

  function agentName(id: number | null | undefined): string | null {
    if (id === null || id === undefined) return null
    const a = agents.value.find((x) => x.id === id)
    return a ? a.display_name || a.username : null
  }

  return { agents, groups, load, loadGroups, upsert, groupName, agentName }
})
