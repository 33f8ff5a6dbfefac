import { http } from '@/common/http'
import type { Conversation } from '@/common/types'

export type RatingSource = 'self' | 'invited' | 'forced'

export interface Rating {
  stars: number
  source: RatingSource
  agent_id: number
  agent_name: string
  at: string
}

/** DESK-4: a conversation's ratings (the best counts, RATE-2) and average response time. */
export interface ServiceQuality {
  conversation_id: number
  rating: number | null
  ratings: Rating[]
  average_response_s: number | null
}

export const ratingsApi = {
  /** RATE-1, DESK-7: post a rating card in the conversation. */
  invite: (conversationId: number) => http.post<Conversation>(`/api/conversations/${conversationId}/rating-invitations`),
  serviceQuality: (conversationId: number) => http.get<ServiceQuality>(`/api/conversations/${conversationId}/service-quality`),
}
