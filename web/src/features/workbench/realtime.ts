import { ref } from 'vue'
import { useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessage, ElNotification } from 'element-plus'
import { staffSocket, resetStaffSocket, type Frame } from '@/common/realtime/socket'
import type { Account, Conversation, Message, Transfer } from '@/common/types'
import { beep, desktopNotify } from '@/common/notify'
import { messageText } from '@/common/notices'
import { useSessionStore } from '@/features/auth/store'
import { useConversationsStore } from '@/features/conversations/store'
import { useMessagesStore } from '@/features/messages/store'
import { usePreferencesStore } from '@/features/presence/preferences'
import type { NotifyEvent } from '@/features/presence/api'
import { pendingTransfers } from './pendingTransfers'
import { onAlertFrame } from '@/features/alerts/notify'

export interface IncomingTransfer {
  transfer: Transfer
  conversation: Conversation
}

/** Wires the staff socket's frames into the stores, notifications and dialogs. */
export function useStaffRealtime() {
  const { t } = useI18n()
  const router = useRouter()
  const session = useSessionStore()
  const convs = useConversationsStore()
  const msgs = useMessagesStore()
  const prefs = usePreferencesStore()
  const socket = staffSocket()
  const incoming = ref<IncomingTransfer[]>([])
  const offs: (() => void)[] = []
  /** Set by the page: whether the agent is looking at this conversation right now. */
  let isOnScreen: (cid: number) => boolean = () => false

  /** Beeps and notifies as the account's own preferences say (SET-3). */
  function alert(event: NotifyEvent, title: string, body: string, tag: string, onClick?: () => void): void {
    if (prefs.wantsSound(event)) beep()
    if (prefs.wantsDesktop(event)) desktopNotify(title, body, tag, onClick)
  }

  function notify(event: NotifyEvent, title: string, body: string, cid: number): void {
    alert(event, title, body, `kefu-${cid}`, () => convs.select(cid))
  }

  function preview(m: Message): string {
    return m.kind === 'emoji' ? m.body : messageText(m).slice(0, 80)
  }

  offs.push(
    socket.on('ready', (f: Frame) => {
      if (f.account) session.setAccount(f.account as Account)
      if (f.reconnected) void convs.loadMine()
    }),
    // Pushes may have been lost (the server's fan-out reconnected): the socket resyncs the
    // conversations it follows; the list comes again from the server.
    socket.on('resync', () => void convs.loadMine()),
    socket.on('conversation', (f: Frame) => {
      const c = f.conversation as Conversation
      const fresh = convs.upsert(c, true)
      if (fresh && !isOnScreen(c.id)) {
        notify('new_conversation', t('desk.notify.newConversation'), c.consumer?.nickname ?? '', c.id)
      }
    }),
    socket.on('message', (f: Frame) => {
      const m = f.message as Message
      const added = msgs.ingest(m)
      if (!added) return
      const onScreen = isOnScreen(m.conversation_id)
      convs.onMessage(m, onScreen)
      if (m.sender === 'consumer' && !onScreen && !f.fromSync) {
        const c = convs.byId[m.conversation_id]
        if (c && convs.isMine(c)) notify('new_message', t('desk.notify.newMessage', { name: c.consumer?.nickname ?? '' }), preview(m), m.conversation_id)
      }
    }),
    socket.on('typing', (f: Frame) => {
      msgs.setTyping(f.conversation_id as number, String(f.text ?? ''))
    }),
    socket.on('transfer_request', (f: Frame) => {
      const conversation = f.conversation as Conversation
      convs.upsert(conversation)
      incoming.value.push({ transfer: f.transfer as Transfer, conversation })
      alert('transfer_request', t('desk.notify.transferRequest'), conversation.consumer?.nickname ?? '', `kefu-transfer-${(f.transfer as Transfer).id}`)
    }),
    socket.on('transfer_result', (f: Frame) => {
      const tr = f.transfer as Transfer
      const ok = tr.state === 'accepted'
      delete pendingTransfers[tr.conversation_id]
      // An offer cancelled by its sender, or expired, goes away on the receiver's side (CONV-7).
      incoming.value = incoming.value.filter((it) => it.transfer.id !== tr.id)
      if (tr.from_agent_id !== session.account?.id) return
      const name = convs.byId[tr.conversation_id]?.consumer?.nickname ?? ''
      // The conversation now belongs to the receiver (CONV-7).
      if (ok) convs.handOver(tr.conversation_id)
      if (tr.state === 'cancelled') return // the sender cancelled it and was told then
      ElNotification({
        type: ok ? 'success' : 'warning',
        title: t(ok ? 'desk.transfer.acceptedTitle' : 'desk.transfer.declinedTitle'),
        message: t(ok ? 'desk.transfer.acceptedText' : 'desk.transfer.declinedText', { name }),
        customClass: `transfer-result transfer-${tr.state}`,
        duration: 6000,
      })
    }),
    socket.on('account', (f: Frame) => {
      session.setAccount(f.account as Account)
    }),
    // LIVE-2: an alert this account receives.
    socket.on('alert', onAlertFrame),
    socket.on('session_closed', (f: Frame) => {
      void endSession(String(f.reason ?? 'logged_out'))
    }),
    socket.on('closed', (f: Frame) => {
      if (f.code === 4409) void endSession('taken_over')
      else if (f.code === 4401) void endSession('logged_out')
    }),
  )

  let ended = false
  async function endSession(reason: string): Promise<void> {
    if (ended) return
    ended = true
    const notices: Record<string, string> = { taken_over: 'desk.session.takenOver', disabled: 'desk.session.disabled', password_reset: 'desk.session.passwordReset' }
    const notice = notices[reason]
    if (notice) ElMessage({ type: 'warning', message: t(notice), duration: 8000, customClass: `session-ended session-ended-${reason}` })
    stop()
    await router.push('/login')
  }

  function start(onScreen: (cid: number) => boolean): void {
    isOnScreen = onScreen
    socket.connect()
  }

  function stop(): void {
    for (const off of offs.splice(0)) off()
    resetStaffSocket()
  }

  return { socket, incoming, start, stop }
}
