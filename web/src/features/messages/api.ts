import { http } from '@/common/http'
import type { Message } from '@/common/types'

export const messagesApi = {
  since: (cid: number, sinceSeq: number, limit = 200) =>
    http.get<{ items: Message[]; has_more: boolean }>(`/api/conversations/${cid}/messages?since_seq=${sinceSeq}&limit=${limit}`),
  before: (cid: number, beforeSeq: number, limit = 30) =>
    http.get<{ items: Message[]; has_more: boolean }>(`/api/conversations/${cid}/messages?before_seq=${beforeSeq}&limit=${limit}`),
}
