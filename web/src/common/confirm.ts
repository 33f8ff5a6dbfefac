import { ElMessageBox, type ElMessageBoxOptions } from 'element-plus'

/** Asks before a step that cannot be undone: true once confirmed, false when the box is
 * cancelled or closed (never an exception, so callers only handle their own errors). */
export async function confirmed(message: string, title = '', options: ElMessageBoxOptions = {}): Promise<boolean> {
  try {
    await ElMessageBox.confirm(message, title, { type: 'warning', ...options })
    return true
  } catch {
    return false
  }
}
