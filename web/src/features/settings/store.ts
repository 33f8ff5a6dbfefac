import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { useSessionStore } from '@/features/auth/store'
import { settingsApi, type KbCategory } from './api'

/** What the settings pages share: who may write (SET-1) and the knowledge-base categories (BOT-2). */
export const useSettingsStore = defineStore('settings', () => {
  const session = useSessionStore()
  const categories = ref<KbCategory[]>([])

  const isOwner = computed(() => session.account?.role === 'owner')

  async function loadCategories(): Promise<void> {
    categories.value = (await settingsApi.categories()).items
  }

  function categoryName(id: number | null): string | null {
    if (id === null) return null
    return categories.value.find((c) => c.id === id)?.name ?? null
  }

  return { categories, isOwner, loadCategories, categoryName }
})
