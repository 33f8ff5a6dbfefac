import { http } from '@/common/http'
import type { Account, Shop } from '@/common/types'

export interface LoginBody {
  shop_id: number
  username: string
  password: string
  take_over: boolean
}

export const authApi = {
  login: (body: LoginBody) => http.post<{ account: Account }>('/api/auth/login', body),
  logout: () => http.post<{ ok: boolean }>('/api/auth/logout'),
  me: () => http.get<{ account: Account; shop: Shop }>('/api/me'),
}
