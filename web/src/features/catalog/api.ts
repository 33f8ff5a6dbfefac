import { ApiError, http, postFile } from '@/common/http'

/** API-1: a product as the catalog holds it. */
export interface CatalogProduct {
  external_id: string
  title: string
  price: string
  image: string
  url: string
  stock: number
  on_sale: boolean
}

export interface CatalogOrder {
  order_no: string
  consumer_uid: string
  title: string
  item_count: number
  amount: string
  status: string
  ordered_at: string
}

export interface Page<T> {
  items: T[]
  total: number
}

export const CARD_KINDS = ['product_card', 'order_card', 'product_link'] as const

export function isCard(kind: string): boolean {
  return (CARD_KINDS as readonly string[]).includes(kind)
}

/** API-2: an integration token (its value is shown only when it is made). */
export interface ApiToken {
  id: number
  name: string
  hint: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

/** API-1: a row an import left out: its line, a stable code and the code's params. */
export interface RejectedRow {
  line: number
  reason: string
  params: Record<string, string | number>
}

export interface ImportResult {
  imported: number
  updated: number
  rejected_count: number
  rejected: RejectedRow[]
}

export type ImportKind = 'products' | 'orders'

export const catalogApi = {
  importFile: (kind: ImportKind, file: File) => {
    const json = file.name.toLowerCase().endsWith('.json')
    return postFile<ImportResult>(`/api/catalog/${kind}/import?format=${json ? 'json' : 'csv'}`, file, json ? 'application/json' : 'text/csv')
  },
  tokens: () => http.get<{ items: ApiToken[] }>('/api/catalog/tokens'),
  createToken: (name: string) => http.post<ApiToken & { token: string }>('/api/catalog/tokens', { name }),
  revokeToken: (id: number) => http.del<{ ok: true }>(`/api/catalog/tokens/${id}`),
  /** MSG-1: the shop's products, for the agent's product link. */
  searchProducts: (q: string, page = 1) =>
    http.get<Page<CatalogProduct>>(`/api/catalog/products?${new URLSearchParams({ q, page: String(page), page_size: '10' })}`),
  /** ENTRY-3: the consumer's own orders, with the consumer's token (not a staff session). */
  async consumerOrders(shopId: number, token: string): Promise<Page<CatalogOrder>> {
    const res = await fetch(`/api/consumer/orders?shop_id=${shopId}&page_size=20`, {
      headers: { Accept: 'application/json', 'X-Consumer-Token': token },
    }).catch(() => null)
    if (!res) throw new ApiError(0, null)
    const data = (await res.json().catch(() => null)) as Page<CatalogOrder> | null
    if (!res.ok || !data) throw new ApiError(res.status, data as never)
    return data
  },
}
