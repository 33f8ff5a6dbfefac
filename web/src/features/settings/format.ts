/** A rate (a fraction; BOT-6's transfer rate may exceed 1) as a percentage, or a dash when undefined. */
export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—'
  return `${(v * 100).toFixed(1).replace(/\.0$/, '')}%`
}

/** A calendar date (YYYY-MM-DD) in UTC, the shop's time zone for now. */
export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10)
}

export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86400000)
}
