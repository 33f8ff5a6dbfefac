import { http } from '@/common/http'
import type { Order, Product } from '@/common/types'

export interface PublicShop {
  id: number
  name: string
  products: Product[]
  orders_demo: Order[]
}

export const shopApi = {
  get: (shopId: number) => http.get<PublicShop>(`/api/public/shops/${shopId}`),
}
