// The server's error body `{"error":{"code","message","field"}}` and how forms use it.

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly field: string | null

  constructor(status: number, code: string, message: string, field: string | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field
  }

  /** 403 or 404: the order (or thing) is not there for this user. */
  get isDeniedOrMissing(): boolean {
    return this.status === 403 || this.status === 404
  }
}

const STATUS_MESSAGES: Record<number, string> = {
  400: '请求格式错误',
  401: '登录已失效，请重新登录',
  403: '无权执行此操作',
  404: '请求的内容不存在',
  409: '当前状态不允许此操作',
  413: '文件过大',
  415: '不支持的文件类型',
  422: '输入有误',
  429: '操作过于频繁，请稍后再试',
  500: '服务器内部错误，请稍后重试',
  502: '服务器暂时无法访问',
  503: '服务暂不可用',
}

/** Builds an ApiError from a status and a response body (parsed JSON, text or nothing). */
export function errorFromBody(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object' && 'error' in body) {
    const e = (body as { error: unknown }).error
    if (e && typeof e === 'object') {
      const d = e as { code?: unknown; message?: unknown; field?: unknown }
      const message =
        typeof d.message === 'string' && d.message ? d.message : fallbackMessage(status)
      return new ApiError(
        status,
        typeof d.code === 'string' ? d.code : `http_${status}`,
        message,
        typeof d.field === 'string' && d.field ? d.field : null,
      )
    }
  }
  return new ApiError(status, `http_${status}`, fallbackMessage(status))
}

export function fallbackMessage(status: number): string {
  return STATUS_MESSAGES[status] ?? `请求失败（${status}）`
}

/**
 * Maps the server's field path (e.g. `citizen.phone`, `targets[0].unit_id`) to the prop of a
 * form item. `aliases` lists explicit mappings; otherwise the longest prefix of the path that is
 * a known prop wins, then the last path segment.
 */
export function fieldToProp(
  field: string | null | undefined,
  props: readonly string[],
  aliases: Record<string, string> = {},
): string | null {
  if (!field) return null
  const clean = field.replace(/\[\d+\]/g, '').replace(/^\./, '')
  if (aliases[clean]) return aliases[clean]
  if (aliases[field]) return aliases[field]
  if (props.includes(clean)) return clean
  const parts = clean.split('.')
  for (let n = parts.length - 1; n > 0; n--) {
    const prefix = parts.slice(0, n).join('.')
    if (aliases[prefix]) return aliases[prefix]
    if (props.includes(prefix)) return prefix
  }
  const last = parts[parts.length - 1]
  if (props.includes(last)) return last
  return null
}

/** The message to show for any thrown value. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof Error) {
    if (e.name === 'AbortError') return '操作已取消'
    if (e.name === 'TypeError') return '网络异常，无法连接服务器'
    return e.message
  }
  return String(e)
}
