import { percent } from '@/features/settings/format'

export { percent }

/** A duration in seconds as the dashboard shows it (中文: 1分20秒; English: 1m 20s), or a dash. */
export function duration(seconds: number | null | undefined, locale: string): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—'
  const s = Math.round(seconds)
  const m = Math.floor(s / 60)
  const rest = s % 60
  const zh = locale.startsWith('zh')
  if (m === 0) return zh ? `${rest}秒` : `${rest}s`
  if (m >= 60) {
    const h = Math.floor(m / 60)
    return zh ? `${h}小时${m % 60}分` : `${h}h ${m % 60}m`
  }
  return zh ? `${m}分${rest}秒` : `${m}m ${rest}s`
}

/** The change from the previous value: 'up', 'down' or 'same' (null when either is missing). */
export function trend(now: number | null | undefined, before: number | null | undefined): 'up' | 'down' | 'same' | null {
  if (now === null || now === undefined || before === null || before === undefined) return null
  if (Math.abs(now - before) < 1e-9) return 'same'
  return now > before ? 'up' : 'down'
}
