import type { InjectionKey } from 'vue'
import { ApiError } from '@/common/http'
import type { Message, ServerError } from '@/common/types'

/** A picture or file sent in a chat (MSG-1): a message's `meta.attachment`. */
export interface Attachment {
  id: number
  kind: 'image' | 'file'
  name: string
  size: number
  mime: string
  width: number | null
  height: number | null
  has_thumbnail: boolean
}

export interface AttachmentSent {
  conversation_id: number
  seq: number
  client_id: string
  created_at: string
  attachment: Attachment
}

/** The widget's consumer: its requests carry the token in headers, never a cookie. */
export interface ConsumerAuth {
  shopId: () => number
  token: () => string | null
}

/** Provided by the widget page; absent in the workbench, whose requests use the staff cookie. */
export const CONSUMER_AUTH: InjectionKey<ConsumerAuth> = Symbol('kefu.consumerAuth')

/** What the file input offers; the server decides by the content all the same. */
export const ACCEPT = 'image/png,image/jpeg,image/gif,image/webp,.txt,.zip,.7z,.rar,.gz,.tgz,.tar'

export function attachmentOf(m: Pick<Message, 'kind' | 'meta'>): Attachment | null {
  if (m.kind !== 'image' && m.kind !== 'file') return null
  const a = m.meta?.attachment
  return a && typeof a === 'object' ? (a as Attachment) : null
}

function headers(auth: ConsumerAuth | null): Record<string, string> {
  const h: Record<string, string> = { Accept: 'application/json' }
  const token = auth?.token()
  if (auth && token) {
    h['X-Kefu-Shop'] = String(auth.shopId())
    h['X-Kefu-Consumer-Token'] = token
  }
  return h
}

async function call(path: string, init: RequestInit, auth: ConsumerAuth | null): Promise<Response> {
  let res: Response
  try {
    res = await fetch(path, { credentials: 'same-origin', ...init, headers: headers(auth) })
  } catch {
    throw new ApiError(0, null)
  }
  if (res.ok) return res
  let body: Partial<ServerError> | null = null
  try {
    body = (await res.json()) as Partial<ServerError>
  } catch {
    body = null
  }
  throw new ApiError(res.status, body && 'code' in body ? body : { code: res.status === 413 ? 'file.too_large' : undefined })
}

function newClientId(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID()
  return `f-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
}

/** Sends `file` into the conversation; it comes back as an `image` or `file` message. */
export async function sendFile(conversationId: number, file: File, auth: ConsumerAuth | null): Promise<AttachmentSent> {
  const form = new FormData()
  form.append('client_id', newClientId())
  form.append('file', file, file.name)
  const path = auth ? `/api/consumer/conversations/${conversationId}/attachments` : `/api/conversations/${conversationId}/attachments`
  const res = await call(path, { method: 'POST', body: form }, auth)
  return (await res.json()) as AttachmentSent
}

export function fileUrl(id: number, auth: ConsumerAuth | null, thumbnail = false): string {
  return `/api${auth ? '/consumer' : ''}/attachments/${id}${thumbnail ? '/thumbnail' : ''}`
}

/** The file's bytes (the widget shows and saves them from `blob:` URLs). */
export async function fetchFile(id: number, auth: ConsumerAuth | null, thumbnail = false): Promise<Blob> {
  const res = await call(fileUrl(id, auth, thumbnail), { method: 'GET' }, auth)
  return await res.blob()
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
