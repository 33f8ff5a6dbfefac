import { http } from '@/common/http'
import type { ShopEntry } from '@/features/settings/api'

export interface ConsumerSession {
  token: string
  consumer: { uid: string; nickname: string }
}

/** `bot_first`: the bot is on and answers the consumer's messages before a human. */
export type PublicEntry = ShopEntry & { bot_enabled: boolean; bot_first: boolean }

/** A buyer identity the shop's own site signed (uid|nickname|ts, HMAC-SHA256 with its secret). */
export interface SignedIdentity {
  uid: string
  nickname: string
  ts: number
  sig: string
}

export const widgetApi = {
  session: (shopId: number, identity?: SignedIdentity | null) =>
    http.post<ConsumerSession>('/api/consumer/session', identity ? { shop_id: shopId, identity } : { shop_id: shopId }),
  /** ENTRY-2: the welcome, FAQ menu, bot cards and consumer phrases. */
  entry: (shopId: number) => http.get<PublicEntry>(`/api/public/shops/${shopId}/entry`),
}
