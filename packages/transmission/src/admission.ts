import { TransmissionError } from './errors.js'
import type { FrameStream } from './frame-stream.js'

// Admission control: what a listener spends on a connection before and after it admits it. Each
// default holds against one hostile peer while an honest one keeps working (PROTOCOL.md, limits).

/** Transmissions served at once: enough for a busy peer, few enough that a slot costs little. */
export const DEFAULT_CONCURRENCY = 16
/** Admitted transmissions waiting for a slot; beyond this a sender gets `busy` at once. */
export const DEFAULT_MAX_QUEUED = 64
/** How long an admitted transmission may wait for a slot before it gets `busy` (ms): no longer than a peer may stay quiet. */
export const DEFAULT_QUEUE_TIMEOUT = 30_000
/** From connection to a complete `open` (peer-id line, preamble, `open`), in ms: a sender writes them at once, so this is generous. */
export const DEFAULT_OPENING_TIMEOUT = 10_000
/** Connections still in their opening at once; each costs a socket (a file descriptor), so more are refused `busy`. */
export const DEFAULT_MAX_OPENING = 64
/** Slowest transfer a listener waits for (bytes/s while it waits for the peer): 4 KiB/s is a dial-up line, and far above a dribble. */
export const DEFAULT_MIN_RATE = 4 * 1024
/** Over how long the rate is measured (ms): a peer may pause, but not for a whole window. */
export const RATE_WINDOW = 10_000

function busy(message: string, peerId: string | undefined): TransmissionError {
  return new TransmissionError('busy', message, { peerId })
}

export interface AdmissionInit {
  concurrency: number
  maxQueued: number
  /** Slots one peer may hold at once; its other transmissions wait in the queue. */
  maxStreamsPerPeer: number
  queueTimeout: number
}

interface Waiter {
  peerId: string
  start: (release: () => void) => void
  fail: (error: Error) => void
}

/**
 * Slots for admitted transmissions, shared fairly between peers: one peer holds at most
 * `maxStreamsPerPeer` slots; a freed slot goes to the oldest waiter among the peers that hold the
 * fewest; a full queue makes room for a new peer by refusing the newest waiter of the peer that
 * has the most waiting, so one peer can use an idle listener fully but cannot lock others out.
 */
export class Admission {
  readonly #init: AdmissionInit
  #active = 0
  readonly #activeByPeer = new Map<string, number>()
  readonly #queue: Waiter[] = []

  constructor(init: AdmissionInit) {
    this.#init = init
  }

  get active(): number {
    return this.#active
  }

  get queued(): number {
    return this.#queue.length
  }

  /**
   * Resolves with the function that gives the slot back, once there is one for `peerId`; rejects
   * with `busy` at once when the queue is full, or after `queueTimeout` ms; with `signal`'s reason
   * when it aborts (the stream closed).
   */
  async enter(peerId: string, signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted()
    if (this.#queue.length === 0 && this.#fits(peerId)) return this.#start(peerId)
    if (this.#queue.length >= this.#init.maxQueued && !this.#evictFor(peerId)) {
      throw busy('the listener is serving its maximum; try again later', peerId)
    }
    return await new Promise<() => void>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        const index = this.#queue.indexOf(waiter)
        if (index >= 0) this.#queue.splice(index, 1)
      }
      const waiter: Waiter = {
        peerId,
        start: release => {
          settle()
          resolve(release)
        },
        fail: error => {
          settle()
          reject(error)
        }
      }
      const onAbort = (): void => waiter.fail(signal.reason as Error)
      const timer = setTimeout(
        () =>
          waiter.fail(
            busy(`no slot became free within ${this.#init.queueTimeout} ms; try again later`, peerId)
          ),
        this.#init.queueTimeout
      )
      signal.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(waiter)
      // A slot may be free for this peer while others wait for theirs.
      this.#next()
    })
  }

  /** Refuses everyone waiting (the listener closes). */
  clear(reason: Error): void {
    for (const waiter of [...this.#queue]) waiter.fail(reason)
  }

  #fits(peerId: string): boolean {
    return (
      this.#active < this.#init.concurrency &&
      (this.#activeByPeer.get(peerId) ?? 0) < this.#init.maxStreamsPerPeer
    )
  }

  #start(peerId: string): () => void {
    this.#active++
    this.#activeByPeer.set(peerId, (this.#activeByPeer.get(peerId) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#active--
      const left = (this.#activeByPeer.get(peerId) ?? 1) - 1
      if (left === 0) this.#activeByPeer.delete(peerId)
      else this.#activeByPeer.set(peerId, left)
      this.#next()
    }
  }

  /** Gives free slots to waiters: the oldest of those whose peer holds the fewest slots. */
  #next(): void {
    while (this.#active < this.#init.concurrency) {
      let chosen: Waiter | undefined
      let fewest = Number.POSITIVE_INFINITY
      for (const waiter of this.#queue) {
        const held = this.#activeByPeer.get(waiter.peerId) ?? 0
        if (held < fewest && this.#fits(waiter.peerId)) {
          chosen = waiter
          fewest = held
        }
      }
      if (chosen == null) return
      chosen.start(this.#start(chosen.peerId))
    }
  }

  /** Makes room in a full queue for `peerId` by refusing the newest waiter of the peer with the most waiting. */
  #evictFor(peerId: string): boolean {
    const waiting = new Map<string, number>()
    for (const waiter of this.#queue) waiting.set(waiter.peerId, (waiting.get(waiter.peerId) ?? 0) + 1)
    let heaviest: string | undefined
    let most = 0
    for (const [peer, count] of waiting) {
      if (count > most) {
        heaviest = peer
        most = count
      }
    }
    if (heaviest == null || heaviest === peerId || most <= (waiting.get(peerId) ?? 0) + 1) return false
    for (let index = this.#queue.length - 1; index >= 0; index--) {
      const waiter = this.#queue[index]
      if (waiter?.peerId === heaviest) {
        waiter.fail(busy('the listener made room for another peer; try again later', heaviest))
        return true
      }
    }
    return false
  }
}

/**
 * Calls `onSlow` when, over a whole `window` (ms), fewer than `minRate` bytes per second
 * arrived on `stream` while we were waiting for them (a window in which reading paused because
 * our reader was behind, i.e. we were the slow side, does not count). Returns the function that
 * stops watching.
 */
export function watchProgress(
  stream: FrameStream,
  minRate: number,
  window: number,
  onSlow: (error: TransmissionError) => void,
  peerId: string
): () => void {
  if (!(minRate > 0 && Number.isFinite(minRate))) return () => {}
  const needed = (minRate * window) / 1000
  let received = 0
  let paused = stream.paused
  const unwatch = stream.watch(
    bytes => {
      received += bytes
    },
    () => {
      paused = true
    }
  )
  const timer = setInterval(() => {
    const ours = paused || stream.paused
    paused = stream.paused
    if (!ours && received < needed) {
      onSlow(
        new TransmissionError(
          'idle-timeout',
          `the peer sent ${received} bytes in ${window} ms, slower than this listener's minimum of ${minRate} bytes/s`,
          { peerId }
        )
      )
    }
    received = 0
  }, window)
  timer.unref()
  return () => {
    clearInterval(timer)
    unwatch()
  }
}

interface OpeningEntry {
  /** Undefined until the peer-id line was read. */
  peerId: string | undefined
  giveWay: (error: TransmissionError) => void
}

/** A connection in its opening, as {@link OpeningPool.enter} hands it out. */
export interface Opening {
  /** The peer-id line was read: the connection counts for this peer from now on. */
  identify(peerId: string): void
  /** The opening is over (admitted, refused or closed); idempotent. */
  end(): void
}

/**
 * Connections in their opening (peer-id line, preamble, `open`), at most `max`. A burst from one
 * peer may use the whole pool; when it is full, the oldest opening of the peer with the most
 * openings (connections not yet identified count as one more such peer) gives way to the
 * newcomer, so a peer that floods the pool with stalled openings cannot keep another one out.
 */
export class OpeningPool {
  readonly #max: number
  readonly #entries: OpeningEntry[] = []

  constructor(max: number) {
    this.#max = max
  }

  get size(): number {
    return this.#entries.length
  }

  /** A new connection; `giveWay` is called (once) if it has to make room for a later one. */
  enter(giveWay: (error: TransmissionError) => void): Opening {
    if (this.#entries.length >= this.#max) this.#makeRoom()
    const entry: OpeningEntry = { peerId: undefined, giveWay }
    this.#entries.push(entry)
    return {
      identify: peerId => {
        entry.peerId = peerId
      },
      end: () => this.#remove(entry)
    }
  }

  #makeRoom(): void {
    const counts = new Map<string | undefined, number>()
    for (const entry of this.#entries) counts.set(entry.peerId, (counts.get(entry.peerId) ?? 0) + 1)
    let heaviest: string | undefined
    let most = 0
    for (const [peerId, count] of counts) {
      if (count > most) {
        heaviest = peerId
        most = count
      }
    }
    const oldest = this.#entries.find(entry => entry.peerId === heaviest)
    if (oldest == null) return
    this.#remove(oldest)
    oldest.giveWay(
      new TransmissionError('busy', 'the listener has too many connections opening; try again later', {
        peerId: oldest.peerId
      })
    )
  }

  #remove(entry: OpeningEntry): void {
    const index = this.#entries.indexOf(entry)
    if (index >= 0) this.#entries.splice(index, 1)
  }
}
