// Messages for staff pages (Element Plus). The portal has its own, lighter feedback.
import { ElMessage, ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import { messageOf } from '../lib/errors'

export function showError(e: unknown): void {
  ElMessage({ type: 'error', message: messageOf(e), grouping: true, duration: 5000, showClose: true })
}

export function showOk(message: string): void {
  ElMessage({ type: 'success', message, grouping: true })
}

export function showInfo(message: string): void {
  ElMessage({ type: 'info', message, grouping: true })
}

export async function confirm(message: string, title = '请确认'): Promise<boolean> {
  try {
    await ElMessageBox.confirm(message, title, { confirmButtonText: '确定', cancelButtonText: '取消', type: 'warning' })
    return true
  } catch {
    return false
  }
}

/** Copies a secret shown once (a token, a signing key) to the clipboard, saying how it went. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
    showOk('已复制')
  } catch {
    showError(new Error('无法访问剪贴板，请手动复制'))
  }
}
