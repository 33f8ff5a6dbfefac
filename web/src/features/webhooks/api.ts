import { http, query } from '@/common/http'

/** API-2: the events an endpoint may subscribe to, in the server's order. */
export const WEBHOOK_EVENTS = [
  'conversation.created',
  'message.created',
  'rating.created',
  'alert.raised',
  'offline_message.created',
] as const
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number]

/** API-2: a webhook endpoint (its secret is shown only when made or rotated). */
export interface WebhookEndpoint {
  id: number
  url: string
  events: WebhookEvent[]
  is_enabled: boolean
  previous_secret_until: string | null
  created_at: string
  updated_at: string
}

export interface WebhookAttempt {
  attempt: number
  at: string
  status_code: number | null
  error: string | null
  duration_ms: number
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed'

export interface WebhookDelivery {
  id: number
  event_id: string
  event: WebhookEvent
  status: DeliveryStatus
  attempts: number
  created_at: string
  next_attempt_at: string | null
  last_attempt_at: string | null
  last_status_code: number | null
  last_error: string | null
  attempt_log: WebhookAttempt[]
}

export interface EndpointInput {
  url: string
  events: WebhookEvent[]
  is_enabled: boolean
}

export const webhooksApi = {
  list: () => http.get<{ items: WebhookEndpoint[]; max_endpoints: number }>('/api/webhooks'),
  create: (body: EndpointInput) => http.post<WebhookEndpoint & { secret: string }>('/api/webhooks', body),
  update: (id: number, body: Partial<EndpointInput>) => http.patch<WebhookEndpoint>(`/api/webhooks/${id}`, body),
  remove: (id: number) => http.del<{ ok: true }>(`/api/webhooks/${id}`),
  rotate: (id: number) => http.post<WebhookEndpoint & { secret: string }>(`/api/webhooks/${id}/rotate-secret`),
  deliveries: (id: number, page: number, pageSize: number) =>
    http.get<{ items: WebhookDelivery[]; total: number }>(
      `/api/webhooks/${id}/deliveries${query({ page, page_size: pageSize })}`,
    ),
}
