import { DEFAULT_CONCURRENCY } from './admission.js'
import type { FrameStream } from './frame-stream.js'

/**
 * How long a stream that carried a data transmission is kept for the next one to the same
 * listener (ms): a burst of messages pays for one stream, and a stream unused this long is
 * closed. Shorter than the listener's wait ({@link LISTENER_REUSE_IDLE}), so that it is
 * normally this side that closes, never the listener under a transmission just starting.
 */
export const REUSE_IDLE = 2_000
/** How long a listener waits for the next transmission on a reused stream before it closes it (ms). */
export const LISTENER_REUSE_IDLE = 5_000

/**
 * Data transmissions one component keeps in flight to one listener at most; later ones wait for a
 * stream to come back instead of opening more. A listener serves this many of one peer's at once
 * by default (`maxStreamsPerPeer`, half its `concurrency`) and queues the rest, so more streams
 * would only wait there, each with its own libp2p stream and opening to pay for.
 */
export const DEFAULT_MAX_STREAMS_PER_LISTENER = Math.ceil(DEFAULT_CONCURRENCY / 2)

interface Idle {
  stream: FrameStream
  timer: NodeJS.Timeout
}

interface Waiter {
  /** Its turn: a stream to reuse, or undefined (open a new one). */
  resolve: (stream: FrameStream | undefined) => void
}

/**
 * A component's streams between data transmissions, per listener (`/x/<name>` on a peer), and
 * its turns: at most `maxBusy` transmissions to one listener at once, the others wait in order.
 */
export class StreamPool {
  readonly #idle = new Map<string, Idle[]>()
  /** Transmissions holding a turn, per listener. */
  readonly #busy = new Map<string, number>()
  /** Transmissions waiting for a turn, per listener, oldest first. */
  readonly #waiting = new Map<string, Waiter[]>()
  readonly #maxBusy: number
  /** Where each idle stream is (its entry), for its end. */
  readonly #where = new WeakMap<FrameStream, { key: string; entry: Idle }>()
  readonly #watched = new WeakSet<FrameStream>()
  readonly #idleMs: number
  #closed = false

  constructor(idleMs = REUSE_IDLE, maxBusy = DEFAULT_MAX_STREAMS_PER_LISTENER) {
    this.#idleMs = idleMs
    this.#maxBusy = maxBusy
  }

  /**
   * A turn to transmit to `key`'s listener: resolves with an idle stream to reuse, or undefined
   * (open a new one). While `maxBusy` transmissions hold a turn, waits for one to end (first come,
   * first served); `signal` ends the wait (rejects with its reason, nothing taken). Every turn
   * taken is given back with {@link release}.
   */
  async acquire(key: string, signal: AbortSignal): Promise<FrameStream | undefined> {
    signal.throwIfAborted()
    const busy = this.#busy.get(key) ?? 0
    if (busy < this.#maxBusy && this.#waiting.get(key) == null) {
      this.#busy.set(key, busy + 1)
      return this.take(key)
    }
    const waiters = this.#waiting.get(key) ?? []
    this.#waiting.set(key, waiters)
    return await new Promise<FrameStream | undefined>((resolve, reject) => {
      const onAbort = (): void => {
        const index = waiters.indexOf(waiter)
        if (index !== -1) waiters.splice(index, 1)
        if (waiters.length === 0 && this.#waiting.get(key) === waiters) this.#waiting.delete(key)
        reject(signal.reason)
      }
      const waiter: Waiter = {
        resolve: stream => {
          signal.removeEventListener('abort', onAbort)
          resolve(stream)
        }
      }
      waiters.push(waiter)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /**
   * The turn taken with {@link acquire} is over; `stream` (if the listener let it be reused) goes
   * straight to the next waiter, else waits idle. Without a stream the next waiter gets an idle
   * one or opens its own.
   */
  release(key: string, stream: FrameStream | undefined): void {
    const waiters = this.#waiting.get(key)
    const next = waiters?.shift()
    if (waiters != null && waiters.length === 0) this.#waiting.delete(key)
    if (next != null) {
      // The turn passes on as it is: as many busy as before.
      if (stream != null && !stream.closed && !this.#closed) next.resolve(stream)
      else {
        stream?.close()
        next.resolve(this.take(key))
      }
      return
    }
    const busy = (this.#busy.get(key) ?? 1) - 1
    if (busy > 0) this.#busy.set(key, busy)
    else this.#busy.delete(key)
    if (stream != null) this.put(key, stream)
  }

  /** An idle stream to `key`'s listener that has not ended, taken out of the pool. */
  take(key: string): FrameStream | undefined {
    const list = this.#idle.get(key)
    while (list != null && list.length > 0) {
      // The most recently used: the likeliest to be alive, and the others then age out.
      const entry = list.pop() as Idle
      clearTimeout(entry.timer)
      this.#where.delete(entry.stream)
      if (list.length === 0) this.#idle.delete(key)
      if (!entry.stream.closed) return entry.stream
    }
    return undefined
  }

  /** Keeps `stream` for the next transmission to `key`'s listener; closes it after the idle time. */
  put(key: string, stream: FrameStream): void {
    if (this.#closed || stream.closed) {
      stream.close()
      return
    }
    const list = this.#idle.get(key) ?? []
    this.#idle.set(key, list)
    const entry: Idle = {
      stream,
      timer: setTimeout(() => this.#drop(key, entry), this.#idleMs)
    }
    entry.timer.unref()
    list.push(entry)
    this.#where.set(stream, { key, entry })
    if (!this.#watched.has(stream)) {
      // Once per stream, not per transmission: a stream the listener closed meanwhile leaves at
      // once, not at its timer.
      this.#watched.add(stream)
      void stream.ended.then(() => {
        const where = this.#where.get(stream)
        if (where != null) this.#drop(where.key, where.entry)
      })
    }
  }

  /** Closes every idle stream; later `put`s close theirs at once. */
  close(): void {
    this.#closed = true
    for (const list of this.#idle.values()) {
      for (const entry of list) {
        clearTimeout(entry.timer)
        entry.stream.close()
      }
    }
    this.#idle.clear()
  }

  /** Idle streams held now (for tests and figures). */
  get size(): number {
    let size = 0
    for (const list of this.#idle.values()) size += list.length
    return size
  }

  #drop(key: string, entry: Idle): void {
    clearTimeout(entry.timer)
    if (this.#where.get(entry.stream)?.entry === entry) this.#where.delete(entry.stream)
    const list = this.#idle.get(key)
    const index = list?.indexOf(entry) ?? -1
    if (list == null || index === -1) return
    list.splice(index, 1)
    if (list.length === 0) this.#idle.delete(key)
    entry.stream.close()
  }
}
