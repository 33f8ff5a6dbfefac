import { http } from '@/common/http'
import type { ShopEntry } from '@/features/settings/api'

export interface ConsumerSession {
  token: string
  consumer: { uid: string; nickname: string }
}

/** `bot_first`: the bot is on and answers the consumer's messages before a human. */
export type PublicEntry = ShopEntry & { bot_enabled: boolean; bot_first: boolean }

export const widgetApi = {
  session: (shopId: number) => http.post<ConsumerSession>('/api/consumer/session', { shop_id: shopId }),
  /** ENTRY-2: the welcome, FAQ menu, bot cards and consumer phrases. */
  entry: (shopId: number) => http.get<PublicEntry>(`/api/public/shops/${shopId}/entry`),
}
