import type { CallOptions, PeerStream } from '@tk/interface'

/** Bytes one end holds unread before its peer's `write` waits: a small TCP window's worth. */
const WINDOW = 256 * 1024

class Direction {
  readonly chunks: Uint8Array[] = []
  bytes = 0
  ended = false
  failure: Error | undefined
  #readerWaits: (() => void) | undefined
  #writerWaits: Array<() => void> = []

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk)
    this.bytes += chunk.byteLength
    this.wakeReader()
  }

  wakeReader(): void {
    const wake = this.#readerWaits
    this.#readerWaits = undefined
    wake?.()
  }

  wakeWriters(): void {
    const waiting = this.#writerWaits
    this.#writerWaits = []
    for (const wake of waiting) wake()
  }

  async readable(): Promise<void> {
    await new Promise<void>(resolve => {
      this.#readerWaits = resolve
    })
  }

  async writable(signal: AbortSignal | undefined): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#writerWaits.push(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }
}

function signalOf(options: CallOptions): AbortSignal | undefined {
  const signals = [options.signal, options.timeout == null ? undefined : AbortSignal.timeout(options.timeout)]
  const present = signals.filter(signal => signal != null)
  return present.length === 0 ? undefined : AbortSignal.any(present)
}

function end(incoming: Direction, outgoing: Direction, remotePeerId: string): PeerStream {
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    // As through Kubo's tunnels: closing ends both directions.
    outgoing.ended = true
    outgoing.wakeReader()
    outgoing.wakeWriters()
    incoming.ended = true
    incoming.chunks.length = 0
    incoming.bytes = 0
    incoming.wakeReader()
    incoming.wakeWriters()
  }
  return {
    remotePeerId,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const chunk = incoming.chunks.shift()
        if (chunk != null) {
          incoming.bytes -= chunk.byteLength
          incoming.wakeWriters()
          yield chunk
          continue
        }
        if (incoming.failure != null) throw incoming.failure
        if (incoming.ended) return
        await incoming.readable()
      }
    },
    write: async (data: Uint8Array, options: CallOptions = {}) => {
      if (closed || outgoing.ended || outgoing.failure != null) throw new Error('the stream is closed')
      // Copied, as a socket would: the caller may reuse its buffer.
      outgoing.push(data.slice())
      const signal = signalOf(options)
      while (outgoing.bytes > WINDOW && !outgoing.ended && outgoing.failure == null) {
        await outgoing.writable(signal)
      }
    },
    closeWrite: close,
    close,
    abort: (error?: Error) => {
      closed = true
      const failure = error ?? new Error('the stream was aborted')
      outgoing.failure = new Error(`the peer aborted the stream: ${failure.message}`)
      outgoing.wakeReader()
      outgoing.wakeWriters()
      incoming.ended = true
      incoming.wakeReader()
      incoming.wakeWriters()
    },
    [Symbol.asyncDispose]: close
  }
}

/**
 * Two ends of an in-memory byte stream, `[a, b]`: what one writes the other reads, with
 * backpressure (a `write` waits while the other side holds 256 KiB unread), and closing either
 * end ends both directions, as through Kubo's tunnels. For tests of the protocol without a
 * network, and for presenting another protocol as ours (the Python toolkit's conversations).
 * `aPeerId` is who `b` sees at the other end, and the other way round.
 */
export function createStreamPair(aPeerId: string, bPeerId: string): [PeerStream, PeerStream] {
  const toA = new Direction()
  const toB = new Direction()
  return [end(toA, toB, bPeerId), end(toB, toA, aPeerId)]
}
