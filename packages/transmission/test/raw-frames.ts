// Tests that play a hostile or hand-written sender write the wire format (PROTOCOL.md) by hand, so
// that a bug in src/protocol.ts cannot hide behind the same bug in the test.

import { once } from 'node:events'
import net from 'node:net'

export const PREAMBLE = Buffer.of(0x00, 0x74, 0x6b, 0x74, 0x01)

export const Type = {
  open: 0x01,
  accept: 0x02,
  error: 0x03,
  chunk: 0x04,
  end: 0x05,
  done: 0x06,
  message: 0x10,
  messageAck: 0x11,
  close: 0x12,
  fileOpen: 0x13,
  fileChunk: 0x14,
  fileEnd: 0x15,
  fileDone: 0x16
} as const

/** One frame: type u8, length u32 big-endian, payload. */
export function frame(type: number, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = Buffer.from(payload)
  const header = Buffer.alloc(5)
  header[0] = type
  header.writeUInt32BE(body.byteLength, 1)
  return Buffer.concat([header, body])
}

export function jsonFrame(type: number, body: unknown): Buffer {
  return frame(type, JSON.stringify(body))
}

export interface RawFrame {
  type: number
  payload: Buffer
}

/** What an `error` frame says (its code), or a description of what arrived instead. */
export function errorCodeOf(received: RawFrame | undefined): string {
  if (received == null) return 'closed without an error frame'
  if (received.type !== Type.error) return `frame 0x${received.type.toString(16)} instead of an error`
  const body = JSON.parse(received.payload.toString('utf8')) as { code?: unknown; message?: unknown }
  if (typeof body.message !== 'string') return 'an error frame without a message'
  return String(body.code)
}

/**
 * One TCP connection into a `p2p forward` tunnel, writing whatever bytes a test chooses (no
 * preamble, no framing unless the test writes them) and collecting the listener's answer.
 */
export class RawConnection {
  readonly socket: net.Socket
  #received: Buffer = Buffer.alloc(0)
  #closed = false
  #waiters: Array<() => void> = []

  static async open(port: number): Promise<RawConnection> {
    const socket = net.connect({ host: '127.0.0.1', port })
    await once(socket, 'connect')
    return new RawConnection(socket)
  }

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk])
      this.#notify()
    })
    socket.on('close', () => {
      this.#closed = true
      this.#notify()
    })
    socket.on('error', () => {
      // Kubo resetting the stream shows up as an error before `close`; `close` is what we watch.
    })
  }

  /** Writes `parts` in order; nothing once the test has destroyed the connection. */
  write(...parts: Uint8Array[]): void {
    if (!this.socket.destroyed) for (const part of parts) this.socket.write(part)
  }

  /** The next whole frame from the listener; undefined if the tunnel closed first; throws after `ms`. */
  async readFrame(ms = 15_000): Promise<RawFrame | undefined> {
    const deadline = Date.now() + ms
    for (;;) {
      if (this.#received.byteLength >= 5) {
        const length = this.#received.readUInt32BE(1)
        if (this.#received.byteLength >= 5 + length) {
          const type = this.#received[0] ?? 0
          const payload = this.#received.subarray(5, 5 + length)
          this.#received = this.#received.subarray(5 + length)
          return { type, payload }
        }
      }
      if (this.#closed) return undefined
      await this.#changed(deadline)
    }
  }

  /** The code of the next frame if it is an `error`, else what came instead; throws after `ms`. */
  async errorCode(ms = 15_000): Promise<string> {
    return errorCodeOf(await this.readFrame(ms))
  }

  /** Resolves once the far side has closed the connection; throws after `ms`. */
  async closed(ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms
    while (!this.#closed) await this.#changed(deadline)
  }

  /** What arrived and was not read as a frame. */
  get unread(): Buffer {
    return this.#received
  }

  destroy(): void {
    this.socket.destroy()
  }

  async #changed(deadline: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('the listener neither answered nor closed within the deadline'))
      }, deadline - Date.now())
      this.#waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  #notify(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}
