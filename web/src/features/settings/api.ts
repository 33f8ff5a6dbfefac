import { http, query, upload } from '@/common/http'

export type BotMode = 'bot_first' | 'human_first'

export type QueueOrder = 'fcfs' | 'lcfs'
export type AutoEnd = '15min' | '5min_warn'
export type LimitSetter = 'agent' | 'supervisor'

export interface ShopSettings {
  queue_order?: QueueOrder
  auto_end?: AutoEnd
  reception_limit_by?: LimitSetter
  max_reception_limit?: number
  bot_enabled: boolean
  bot_mode: BotMode
  welcome_message?: string
  [key: string]: unknown
}

export interface KbCategory {
  id: number
  name: string
  question_count: number
}

export interface KbQuestion {
  id: number
  category_id: number | null
  question: string
  answer: string
  phrasings: string[]
  related_ids: number[]
  hit_count: number
  resolved_count: number
  unresolved_count: number
  updated_at: string | null
}

export type KbQuestionInput = Pick<KbQuestion, 'category_id' | 'question' | 'answer' | 'phrasings' | 'related_ids'>

export interface Rejected {
  line: number
  reason: string
}

export interface KbImportResult {
  imported: number
  updated?: number
  rejected: Rejected[]
}

export interface Synonyms {
  groups: string[][]
  user_words: string[]
}

export interface TryResult {
  answered: boolean
  confidence: number
  answer?: string
  question_id?: number | null
  candidates: { question_id: number; question: string; confidence: number }[]
}

export interface EntryItem {
  id?: string
  title: string
  question_id: number | null
}

export interface MenuItem {
  id?: string
  title: string
  question_id?: number | null
  children: EntryItem[]
}

export interface ShopEntry {
  welcome_message: string
  faq_menu: MenuItem[]
  bot_cards: EntryItem[]
  consumer_phrases: string[]
}

export interface BotStats {
  consultations: number
  transfers_to_human: number
  transfer_rate: number | null
  answers: number
  misses: number
  suggestion_clicks: number
  resolved: number
  unresolved: number
  resolution_rate: number | null
  feedback_resolution_rate: number | null
  faq_clicks: { id: string; title: string; clicks: number }[]
  by_day: { date: string; consultations: number; transfers_to_human: number }[]
}

export interface Greeting {
  welcome: string
  closing: string
}

export interface Greetings {
  groups: ({ group_id: number } & Greeting)[]
  agents: ({ agent_id: number } & Greeting)[]
}

export interface QuestionQuery {
  category_id?: number | null
  q?: string
  page?: number
  page_size?: number
}

/** Owner settings (SET-1), the knowledge base (BOT-2), entry (ENTRY-2), bot statistics (BOT-6). */
export const settingsApi = {
  shopSettings: () => http.get<ShopSettings>('/api/shop/settings'),
  saveShopSettings: (patch: Partial<ShopSettings>) => http.put<ShopSettings>('/api/shop/settings', patch),

  categories: () => http.get<{ items: KbCategory[] }>('/api/kb/categories'),
  addCategory: (name: string) => http.post<KbCategory>('/api/kb/categories', { name }),
  renameCategory: (id: number, name: string) => http.put<KbCategory>(`/api/kb/categories/${id}`, { name }),
  deleteCategory: (id: number) => http.del<unknown>(`/api/kb/categories/${id}`),

  questions: (q: QuestionQuery) => http.get<{ items: KbQuestion[]; total: number }>(`/api/kb/questions${query({ ...q })}`),
  question: (id: number) => http.get<KbQuestion>(`/api/kb/questions/${id}`),
  addQuestion: (body: KbQuestionInput) => http.post<KbQuestion>('/api/kb/questions', body),
  saveQuestion: (id: number, body: KbQuestionInput) => http.put<KbQuestion>(`/api/kb/questions/${id}`, body),
  deleteQuestion: (id: number) => http.del<unknown>(`/api/kb/questions/${id}`),
  importKb: (file: File, onProgress: (f: number) => void) => {
    const form = new FormData()
    form.append('file', file)
    return upload<KbImportResult>('/api/kb/import', form, onProgress)
  },
  exportUrl: (format: 'csv' | 'json') => `/api/kb/export?format=${format}`,
  synonyms: () => http.get<Synonyms>('/api/kb/synonyms'),
  saveSynonyms: (body: Synonyms) => http.put<Synonyms>('/api/kb/synonyms', body),
  tryBot: (text: string) => http.post<TryResult>('/api/kb/try', { text }),

  entry: () => http.get<ShopEntry>('/api/shop/entry'),
  saveEntry: (body: ShopEntry) => http.put<ShopEntry>('/api/shop/entry', body),

  botStats: (start: string, end: string) => http.get<BotStats>(`/api/bot/stats${query({ start, end })}`),

  greetings: () => http.get<Greetings>('/api/greetings'),
  saveGreetings: (body: Greetings) => http.put<Greetings>('/api/greetings', body),
}

/** ENTRY-2 limits, shared with the server. */
export const ENTRY_LIMITS = { menu: 3, children: 5, cards: 4, phrases: 10, title: 30, phrase: 50, welcome: 500 } as const
/** BOT-2 limits. */
export const KB_LIMITS = { question: 200, answer: 2000, phrasings: 50, related: 5, synonymGroups: 500 } as const
