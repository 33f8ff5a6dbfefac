import { http } from '@/common/http'

/** CONV-10: a node of the shop's classification tree. */
export interface CategoryNode {
  id: number
  name: string
  children: CategoryNode[]
}

export interface CategoryTree {
  nodes: CategoryNode[]
  max_depth: number
}

/** What `PUT /api/summary-categories` takes: the tree, flat (`parent_key` null at the top). */
export interface FlatNode {
  key: string
  parent_key: string | null
  id: number | null
  name: string
}

export interface Summary {
  conversation_id: number
  category_id: number
  path: string[]
  note: string
  agent_id: number
  at: string
}

export const summariesApi = {
  tree: () => http.get<CategoryTree>('/api/summary-categories'),
  saveTree: (nodes: FlatNode[]) => http.put<CategoryTree>('/api/summary-categories', { nodes }),
  get: (conversationId: number) => http.get<{ summary: Summary | null }>(`/api/conversations/${conversationId}/summary`),
  save: (conversationId: number, categoryId: number, note: string) =>
    http.put<{ summary: Summary | null }>(`/api/conversations/${conversationId}/summary`, { category_id: categoryId, note }),
}
