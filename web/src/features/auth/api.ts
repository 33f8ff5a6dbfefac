import { http } from '@/common/http'
import type { Account, Shop } from '@/common/types'

/** ACCT-6: the feature areas an account may open. */
export type Feature = 'workbench' | 'monitoring' | 'analytics' | 'quality' | 'settings'

export interface LoginBody {
  shop_id: number
  username: string
  password: string
  take_over: boolean
}

export const authApi = {
  login: (body: LoginBody) => http.post<{ account: Account }>('/api/auth/login', body),
  logout: () => http.post<{ ok: boolean }>('/api/auth/logout'),
  me: () => http.get<{ account: Account; shop: Shop; features: Feature[] }>('/api/me'),
  /** ACCT-4: who this page is signed in as, or nulls; never a 401. */
  session: () => http.get<{ account: Account | null; shop: Shop | null; features: Feature[] }>('/api/auth/session'),
}
