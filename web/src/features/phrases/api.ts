import { http, ApiError, query, upload } from '@/common/http'
import type { Rejected } from '@/features/settings/api'

export type PhraseScope = 'personal' | 'shop'

export interface QuickPhrase {
  id: number | string
  scope: PhraseScope
  title: string
  body: string
}

export type PhraseInput = Pick<QuickPhrase, 'scope' | 'title' | 'body'>

/** MSG-4 limits, shared with the server. */
export const PHRASE_LIMITS = { title: 30, body: 500 } as const

export const phrasesApi = {
  /** MSG-4: the caller's personal phrases plus the shop's; an absent endpoint (404) means none. */
  async list(q = ''): Promise<QuickPhrase[]> {
    try {
      const res = await http.get<{ items: QuickPhrase[] }>(`/api/quick-phrases${query({ q })}`)
      return Array.isArray(res?.items) ? res.items : []
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return []
      throw e
    }
  },
  add: (body: PhraseInput) => http.post<QuickPhrase>('/api/quick-phrases', body),
  save: (id: number | string, body: Partial<PhraseInput>) => http.put<QuickPhrase>(`/api/quick-phrases/${id}`, body),
  remove: (id: number | string) => http.del<unknown>(`/api/quick-phrases/${id}`),
  importCsv: (file: File, scope: PhraseScope, onProgress: (f: number) => void) => {
    const form = new FormData()
    form.append('scope', scope)
    form.append('file', file)
    return upload<{ imported: number; rejected: Rejected[] }>('/api/quick-phrases/import', form, onProgress)
  },
}
