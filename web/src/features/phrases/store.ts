import { defineStore } from 'pinia'
import { ref } from 'vue'
import { phrasesApi, type QuickPhrase } from './api'

/** Quick phrases for smart input (MSG-4). */
export const usePhrasesStore = defineStore('phrases', () => {
  const items = ref<QuickPhrase[]>([])
  const loaded = ref(false)

  // A phrase added or changed on the settings page (another tab) reaches the composer at once.
  let channel: BroadcastChannel | null = null
  function listen(): BroadcastChannel | null {
    if (channel === null && typeof BroadcastChannel !== 'undefined') {
      channel = new BroadcastChannel('kefu.phrases')
      channel.onmessage = () => {
        if (loaded.value) void load()
      }
    }
    return channel
  }

  /** Tell the other tabs of this browser that the phrases changed. */
  function announce(): void {
    listen()?.postMessage('changed')
  }

  async function load(): Promise<void> {
    listen()
    try {
      items.value = await phrasesApi.list()
    } catch {
      items.value = []
    }
    loaded.value = true
  }

  /** Phrases whose title or body contains what is typed (case-insensitive), best first. */
  function suggest(text: string, max = 6): QuickPhrase[] {
    const q = text.trim().toLowerCase()
    if (!q) return []
    const scored: [number, QuickPhrase][] = []
    for (const p of items.value) {
      const title = p.title.toLowerCase()
      const body = p.body.toLowerCase()
      let score = -1
      if (title.startsWith(q)) score = 3
      else if (title.includes(q)) score = 2
      else if (body.includes(q)) score = 1
      if (score >= 0) scored.push([score, p])
    }
    scored.sort((a, b) => b[0] - a[0])
    return scored.slice(0, max).map(([, p]) => p)
  }

  return { items, loaded, load, suggest, announce }
})
