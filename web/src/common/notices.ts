import { i18n } from './i18n'
import type { Message } from './types'

/**
 * What a message says in the viewer's language (MSG-1): a server notice is translated from its
 * code (notices.<code>) and params; anything else, or a notice this client has no text for
 * (old rows, a newer server), shows its body as written.
 */
export function messageText(m: Pick<Message, 'body' | 'notice'>): string {
  const notice = m.notice
  if (!notice) return m.body
  const { t, te } = i18n.global
  const key = `notices.${notice.code}`
  return te(key) ? t(key, notice.params ?? {}) : m.body
}
