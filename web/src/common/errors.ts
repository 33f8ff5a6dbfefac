import { ElMessage } from 'element-plus'
import { ApiError } from './http'
import { errorText } from './i18n'

export function describeError(e: unknown): string {
  if (e instanceof ApiError) return errorText(e.code, e.params)
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    const se = e as { code: string; params?: Record<string, unknown> }
    return errorText(se.code, se.params ?? {})
  }
  return errorText('unknown')
}

export function showError(e: unknown): void {
  ElMessage({ type: 'error', message: describeError(e), grouping: true })
}
