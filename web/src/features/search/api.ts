import { http } from '@/common/http'
import type { Conversation } from '@/common/types'

/** DATA-5: GET /api/history/search (docs/protocol.md, History search). */
export interface Snippet {
  text: string
  highlights: [number, number][]
  cut_before: boolean
  cut_after: boolean
}

export interface SearchMatch {
  id: number
  seq: number
  sender: string
  created_at: string
  snippet: Snippet
}

export interface SearchHit {
  conversation: Conversation
  matches: SearchMatch[]
}

export interface SearchPage {
  items: SearchHit[]
  next_cursor: string | null
}

export const searchApi = {
  search: (q: string, cursor: string | null = null) => {
    const params = new URLSearchParams({ q })
    if (cursor) params.set('cursor', cursor)
    return http.get<SearchPage>(`/api/history/search?${params.toString()}`)
  },
}

/** A snippet cut into plain-text pieces, the found words marked (rendered as text, never HTML). */
export function pieces(s: Snippet): { text: string; hit: boolean }[] {
  const out: { text: string; hit: boolean }[] = []
  let at = 0
  for (const [start, end] of s.highlights) {
    if (start > at) out.push({ text: s.text.slice(at, start), hit: false })
    out.push({ text: s.text.slice(start, end), hit: true })
    at = end
  }
  if (at < s.text.length) out.push({ text: s.text.slice(at), hit: false })
  return out
}
