import { randomBytes } from 'node:crypto'
import type { BodyEntry, RequestBody } from './transport.js'

const encoder = new TextEncoder()
const CRLF = encoder.encode('\r\n')

/** A fresh multipart boundary; random so that file content cannot collide with it by accident. */
export function createBoundary(): string {
  return `tk-${randomBytes(16).toString('hex')}`
}

/**
 * Encodes a file tree as Kubo's multipart/form-data, streaming: file content is read as it is
 * sent, never gathered in memory. Paths are URL-encoded in `filename`, as Kubo expects.
 */
export async function* encodeMultipart(body: RequestBody, boundary: string): AsyncGenerator<Uint8Array> {
  for await (const entry of body) {
    yield encoder.encode(`--${boundary}\r\n${partHeaders(entry)}\r\n`)
    if (entry.kind === 'file') {
      const content = entry.content
      if (content instanceof Uint8Array) {
        if (content.byteLength > 0) yield content
      } else {
        for await (const chunk of content) {
          if (chunk.byteLength > 0) yield chunk
        }
      }
    } else if (entry.kind === 'symlink') {
      yield encoder.encode(entry.target)
    }
    yield CRLF
  }
  yield encoder.encode(`--${boundary}--\r\n`)
}

function partHeaders(entry: BodyEntry): string {
  const type =
    entry.kind === 'directory'
      ? 'application/x-directory'
      : entry.kind === 'symlink'
        ? 'application/symlink'
        : 'application/octet-stream'
  // Kubo reads mode (octal) and mtime (seconds, nanoseconds) from query parameters of the form name.
  const params = new URLSearchParams()
  if (entry.kind !== 'symlink') {
    if (entry.mode != null) params.set('mode', (entry.mode & 0o7777).toString(8).padStart(4, '0'))
    if (entry.mtime != null) {
      const ms = entry.mtime.getTime()
      params.set('mtime', String(Math.floor(ms / 1000)))
      params.set('mtime-nsecs', String((((ms % 1000) + 1000) % 1000) * 1_000_000))
    }
  }
  const name = params.size > 0 ? `file?${params}` : 'file'
  const disposition = `form-data; name="${name}"; filename="${encodeURIComponent(entry.path)}"`
  const absolutePath =
    entry.kind === 'file' && entry.absolutePath != null
      ? `Abspath-Encoded: ${encodeURIComponent(entry.absolutePath)}\r\n`
      : ''
  return `Content-Disposition: ${disposition}\r\nContent-Type: ${type}\r\n${absolutePath}`
}
