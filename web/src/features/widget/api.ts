import { http } from '@/common/http'

export interface ConsumerSession {
  token: string
  consumer: { uid: string; nickname: string }
}

export const widgetApi = {
  session: (shopId: number) => http.post<ConsumerSession>('/api/consumer/session', { shop_id: shopId }),
}
