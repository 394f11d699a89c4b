// A small fetch wrapper: JSON in and out, errors as ApiError. No UI code here (the portal uses it too).
import { ApiError, errorFromBody } from '../lib/errors'

type Query = Record<string, string | number | boolean | null | undefined> | URLSearchParams | string

let onUnauthenticated: (() => void) | null = null

/** Called when an authenticated request answers 401 (the session ended). */
export function setUnauthenticatedHandler(fn: (() => void) | null): void {
  onUnauthenticated = fn
}

export function withQuery(path: string, query?: Query): string {
  if (query === undefined) return path
  let qs: string
  if (typeof query === 'string') qs = query.replace(/^\?/, '')
  else if (query instanceof URLSearchParams) qs = query.toString()
  else {
    const p = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue
      p.set(k, String(v))
    }
    qs = p.toString()
  }
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path
}

export interface RequestOptions {
  query?: Query
  body?: unknown
  signal?: AbortSignal
  /** Do not call the 401 handler (login, the first `me`, public pages). */
  quiet401?: boolean
}

async function readBody(res: Response): Promise<unknown> {
  if (res.status === 204) return undefined
  const text = await res.text()
  if (!text) return undefined
  const type = res.headers.get('content-type') ?? ''
  if (type.includes('json')) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  return text
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  let body: BodyInit | undefined
  if (opts.body instanceof FormData) {
    body = opts.body
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  const res = await fetch(withQuery(path, opts.query), {
    method,
    headers,
    body,
    credentials: 'same-origin',
    signal: opts.signal,
  })
  const data = await readBody(res)
  if (!res.ok) {
    const err = errorFromBody(res.status, data)
    if (res.status === 401 && !opts.quiet401 && onUnauthenticated) onUnauthenticated()
    throw err
  }
  return data as T
}

export const http = {
  get: <T>(path: string, query?: Query, opts: Omit<RequestOptions, 'query'> = {}) =>
    request<T>('GET', path, { ...opts, query }),
  post: <T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'body'> = {}) =>
    request<T>('POST', path, { ...opts, body: body ?? {} }),
  put: <T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'body'> = {}) =>
    request<T>('PUT', path, { ...opts, body }),
  del: <T>(path: string, opts: RequestOptions = {}) => request<T>('DELETE', path, opts),
}

export { ApiError }
