import { ref } from 'vue'

export type NotifyPermission = 'granted' | 'denied' | 'default' | 'unsupported'

function readPermission(): NotifyPermission {
  if (typeof window === 'undefined' || !('Notification' in window)) return 'unsupported'
  return Notification.permission as NotifyPermission
}

export const notifyPermission = ref<NotifyPermission>(readPermission())

export async function askPermission(): Promise<void> {
  if (notifyPermission.value === 'unsupported') return
  try {
    notifyPermission.value = (await Notification.requestPermission()) as NotifyPermission
  } catch {
    notifyPermission.value = readPermission()
  }
}

let audio: AudioContext | null = null

/** A short two-tone beep made with WebAudio (no audio file). */
export function beep(): void {
  try {
    const Ctor = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext
    if (!Ctor) return
    audio ??= new Ctor()
    const ctx = audio
    if (ctx.state === 'suspended') void ctx.resume()
    const t0 = ctx.currentTime
    for (const [i, freq] of [880, 1175].entries()) {
      const osc = ctx.createOscillator()
      const gain = ctx.createGain()
      osc.type = 'sine'
      osc.frequency.value = freq
      const start = t0 + i * 0.12
      gain.gain.setValueAtTime(0.0001, start)
      gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.11)
      osc.connect(gain).connect(ctx.destination)
      osc.start(start)
      osc.stop(start + 0.12)
    }
  } catch {
    /* sound is best effort */
  }
}

export function desktopNotify(title: string, body: string, tag: string, onClick?: () => void): void {
  notifyPermission.value = readPermission()
  if (notifyPermission.value !== 'granted') return
  try {
    const n = new Notification(title, { body, tag })
    n.onclick = () => {
      window.focus()
      onClick?.()
      n.close()
    }
  } catch {
    /* some platforms only allow notifications from a service worker */
  }
}
