import { http, ApiError } from '@/common/http'

export interface QuickPhrase {
  id: number | string
  scope: 'personal' | 'shop'
  title: string
  body: string
}

export const phrasesApi = {
  /** MSG-4; an absent endpoint (404) means no phrases yet. */
  async list(): Promise<QuickPhrase[]> {
    try {
      const res = await http.get<{ items: QuickPhrase[] }>('/api/quick-phrases')
      return Array.isArray(res?.items) ? res.items : []
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return []
      throw e
    }
  },
}
