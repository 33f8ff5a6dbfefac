import { ElNotification } from 'element-plus'
import { i18n } from '@/common/i18n'
import { beep, desktopNotify } from '@/common/notify'
import type { Frame } from '@/common/realtime/socket'
import type { Alert, AlertHit } from './api'

/** A figure as people read it: whole numbers plain, others to one decimal. */
export function figure(value: number | undefined): string {
  if (typeof value !== 'number') return ''
  return Number.isInteger(value) ? String(value) : value.toFixed(1)
}

/** A scope, metric or comparison's label; nothing for a row Element Plus renders empty. */
export function label(kind: 'scope' | 'metric' | 'comparison', value: string | undefined): string {
  return value ? i18n.global.t(`alerts.${kind}.${value}`) : ''
}

/** LIVE-2: who an alert's value belongs to, e.g. "分组 #3". */
export function hitScope(hit: AlertHit, names: Record<string, string> = {}): string {
  const { t } = i18n.global
  if (hit.scope === 'shop') return t('alerts.hit.shop')
  const name = names[`${hit.scope}:${hit.id}`] ?? `#${hit.id}`
  return t(`alerts.hit.${hit.scope}`, { name })
}

/** LIVE-2: an `alert` frame becomes an in-app notification with sound (and a desktop one
 * when allowed), like new conversations and transfers in the workbench. */
export function onAlertFrame(f: Frame): void {
  const alert = f.alert as Alert | undefined
  if (!alert) return
  const { t } = i18n.global
  const metric = t(`alerts.metric.${alert.metric}`)
  const title = t('alerts.notify.title', { metric })
  const body = alert.hits
    .slice(0, 3)
    .map((h) =>
      t('alerts.notify.body', {
        scope: hitScope(h),
        metric,
        value: figure(h.value),
        comparison: t(`alerts.comparison.${alert.comparison}`),
        threshold: figure(alert.threshold),
      }),
    )
    .join('；')
  beep()
  ElNotification({ type: 'error', title, message: body, duration: 0, customClass: 'alert-notification' })
  desktopNotify(title, body, `kefu-alert-${alert.id}`)
}
