import { i18n } from './i18n'
import type { Message } from './types'

/**
 * What a message says in the viewer's language (MSG-1): a server notice is translated from its
 * code (notices.<code>) and params; anything else, or a notice this client has no text for
 * (old rows, a newer server), shows its body as written.
 */
export function messageText(m: Pick<Message, 'body' | 'notice'> & Partial<Pick<Message, 'kind' | 'meta'>>): string {
  const { t, te } = i18n.global
  // MSG-1: a picture or file message's body is its attachment's id.
  if (m.kind === 'image') return t('files.picture')
  if (m.kind === 'file') return t('files.file', { name: String((m.meta?.attachment as { name?: unknown } | undefined)?.name ?? '') })
  const notice = m.notice
  if (!notice) return m.body
  const key = `notices.${notice.code}`
  return te(key) ? t(key, notice.params ?? {}) : m.body
}
