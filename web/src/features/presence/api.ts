import { http } from '@/common/http'
import type { Account, AgentStatus } from '@/common/types'

export interface WorkStats {
  online_seconds: number
  login_seconds: number
  queue_length: number
}

export type NotifyEvent = 'new_conversation' | 'new_message' | 'transfer_request'
export const NOTIFY_EVENTS: NotifyEvent[] = ['new_conversation', 'new_message', 'transfer_request']

/** SET-3: the account's own notification preferences, kept by the server. */
export interface NotificationPreferences {
  sound: boolean
  desktop: boolean
  events: NotifyEvent[]
}

export const presenceApi = {
  setStatus: (status: AgentStatus) => http.put<{ account: Account }>('/api/me/status', { status }),
  setLimit: (limit: number) => http.put<{ account: Account }>('/api/me/reception-limit', { limit }),
  stats: () => http.get<WorkStats>('/api/me/stats'),
  notificationPreferences: () => http.get<NotificationPreferences>('/api/me/notification-preferences'),
  setNotificationPreferences: (p: NotificationPreferences) =>
    http.put<NotificationPreferences>('/api/me/notification-preferences', p),
}
