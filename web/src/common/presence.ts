import type { Account, AgentStatus } from './types'

/** What supervisors see of an agent: their status, or "disconnected" when they are online but
 * their last workbench connection has been gone for the grace period (PRES-1). */
export type Presence = AgentStatus | 'disconnected'

export function presenceOf(a: Pick<Account, 'status' | 'connected'>): Presence {
  return a.status === 'online' && a.connected === false ? 'disconnected' : a.status
}
