import { http } from '@/common/http'
import type { Order, Product } from '@/common/types'
import type { SignedIdentity } from '@/features/widget/api'

export interface PublicShop {
  id: number
  name: string
  products: Product[]
  orders_demo: Order[]
}

export const shopApi = {
  get: (shopId: number) => http.get<PublicShop>(`/api/public/shops/${shopId}`),
  /** `kefu demo` only: the demo buyer's identity, signed as the shop's own site would. */
  demoBuyer: () => http.get<SignedIdentity>('/api/demo/buyer-identity'),
}
