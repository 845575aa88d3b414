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

interface Idle {
  stream: FrameStream
  timer: NodeJS.Timeout
}

/** A component's streams between data transmissions, per listener (`/x/<name>` on a peer). */
export class StreamPool {
  readonly #idle = new Map<string, Idle[]>()
  /** Where each idle stream is (its entry), for its end. */
  readonly #where = new WeakMap<FrameStream, { key: string; entry: Idle }>()
  readonly #watched = new WeakSet<FrameStream>()
  readonly #idleMs: number
  #closed = false

  constructor(idleMs = REUSE_IDLE) {
    this.#idleMs = idleMs
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
