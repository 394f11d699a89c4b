// Streamed downloads with progress (the Excel export), and their small helpers.
import { errorFromBody } from './errors'

export interface Progress {
  loaded: number
  /** From Content-Length; null when the server did not say. */
  total: number | null
}

/** `12.3 KB`, `4.0 MB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return ''
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`
}

/** Whole percent, or null when the total is unknown. */
export function percentOf(p: Progress): number | null {
  if (!p.total || p.total <= 0) return null
  return Math.min(100, Math.floor((p.loaded * 100) / p.total))
}

/** The file name of a Content-Disposition header (RFC 6266, `filename*=UTF-8''…` preferred). */
export function filenameFromDisposition(header: string | null, fallback: string): string {
  if (!header) return fallback
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header)
  if (star) {
    try {
      return decodeURIComponent(star[2].trim().replace(/^"|"$/g, ''))
    } catch {
      /* fall through */
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header)
  if (plain) return (plain[2] ?? plain[1]).trim()
  return fallback
}

/** Fetches `url` as a stream, reporting progress, and returns the file. */
export async function fetchWithProgress(
  url: string,
  onProgress: (p: Progress) => void,
  signal?: AbortSignal,
  fallbackName = 'download',
): Promise<{ blob: Blob; filename: string }> {
  const res = await fetch(url, { credentials: 'same-origin', signal })
  if (!res.ok) {
    let body: unknown
    try {
      body = await res.json()
    } catch {
      body = undefined
    }
    throw errorFromBody(res.status, body)
  }
  const len = Number(res.headers.get('content-length'))
  const total = Number.isFinite(len) && len > 0 ? len : null
  const filename = filenameFromDisposition(res.headers.get('content-disposition'), fallbackName)
  const type = res.headers.get('content-type') ?? 'application/octet-stream'
  onProgress({ loaded: 0, total })
  if (!res.body) {
    const blob = await res.blob()
    onProgress({ loaded: blob.size, total: total ?? blob.size })
    return { blob, filename }
  }
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let loaded = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    loaded += value.byteLength
    onProgress({ loaded, total })
  }
  return { blob: new Blob(chunks as BlobPart[], { type }), filename }
}

/** Hands a blob to the browser as a download. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
