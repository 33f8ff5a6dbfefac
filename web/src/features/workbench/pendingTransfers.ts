import { reactive } from 'vue'

/** CONV-7: the transfer offers this agent sent and that wait for an answer, by conversation. */
export interface PendingTransfer {
  id: number
  toName: string
  expiresAt: string | null
}

export const pendingTransfers = reactive<Record<number, PendingTransfer>>({})
