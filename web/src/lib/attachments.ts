// Attachment rules as the server applies them (jpg/png/pdf/doc(x)/xls(x)/txt, at most 10 MiB).

export const ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
export const ATTACHMENT_EXTENSIONS = ['jpg', 'jpeg', 'png', 'pdf', 'doc', 'docx', 'xls', 'xlsx', 'txt'] as const
export const ATTACHMENT_ACCEPT = ATTACHMENT_EXTENSIONS.map((e) => `.${e}`).join(',')

/** Why a file cannot be attached, or null when it may. */
export function checkAttachment(name: string, size: number): string | null {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : ''
  if (!(ATTACHMENT_EXTENSIONS as readonly string[]).includes(ext)) return '不支持的文件类型（仅限 jpg、png、pdf、doc、docx、xls、xlsx、txt）'
  if (size > ATTACHMENT_MAX_BYTES) return '文件超过 10 MB'
  if (size === 0) return '文件为空'
  return null
}
