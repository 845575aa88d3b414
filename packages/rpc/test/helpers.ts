import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return new Uint8Array(Buffer.concat(parts))
}

export async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = []
  for await (const item of items) result.push(item)
  return result
}

/**
 * Established TCP connections on this machine whose remote end is `port` on 127.0.0.1: the
 * client side of connections to a daemon's API (Linux only; /proc/net/tcp).
 */
export function openConnectionsTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const lines = readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1)
  return lines.filter(line => {
    const fields = line.trim().split(/\s+/)
    return fields[2] === `0100007F:${hexPort}` && fields[3] === '01'
  }).length
}

export async function waitFor(condition: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (condition()) return true
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  return condition()
}

/** Probes until `done` says yes or `ms` pass, and returns the last value for the test to assert on. */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 10_000
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (done(value) || Date.now() > deadline) return value
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
