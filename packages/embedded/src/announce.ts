import type { KadDHT } from '@libp2p/kad-dht'
import type { CID } from 'multiformats/cid'
import {
  ANNOUNCE_CONCURRENCY,
  ANNOUNCE_MAX_PENDING,
  ANNOUNCE_RETRY_MAX,
  ANNOUNCE_RETRY_MIN,
  ANNOUNCE_TIMEOUT
} from './constants.js'

/** Announces (DHT provides) CIDs in the background, so content is found by peers not connected to this node. */
export interface Announcer {
  /**
   * Queues CIDs for announcement and returns at once: a publish must not wait for the DHT.
   * The first CID goes first (a root is what peers look up); CIDs already queued are skipped.
   */
  announce(cids: Iterable<CID>): void
  /** How many CIDs wait or are being announced (for tests and diagnostics). */
  readonly pending: number
  /** How many CIDs reached at least one DHT peer since the node started. */
  readonly announced: number
  /** Drops what is queued and ends the provides in flight. */
  stop(): void
}

/**
 * Kubo announces every block it adds (its default `Provide.Strategy: all`); this does the same
 * over the node's Kademlia DHT. A CID counts as announced once a DHT peer took the provider record;
 * when none did (no DHT peer yet, or all failed), it is tried again with a growing delay, since a
 * node often publishes before it has joined (kad-dht's own reprovider would retry only after 22 h).
 */
export function createAnnouncer(dht: KadDHT, closing: AbortSignal): Announcer {
  const queue: CID[] = []
  /** Keys of the CIDs queued, waiting to retry, or in flight. */
  const known = new Set<string>()
  const waiting: CID[] = []
  let running = 0
  let announced = 0
  let retryDelay = ANNOUNCE_RETRY_MIN
  let retryTimer: NodeJS.Timeout | undefined

  const pump = (): void => {
    while (!closing.aborted && running < ANNOUNCE_CONCURRENCY && queue.length > 0) {
      const cid = queue.shift() as CID
      running++
      void provide(cid).then(reached => {
        running--
        if (closing.aborted) return
        if (reached) {
          announced++
          known.delete(cid.toString())
          retryDelay = ANNOUNCE_RETRY_MIN
        } else {
          waiting.push(cid)
          scheduleRetry()
        }
        pump()
      })
    }
  }

  /** Resolves true when at least one DHT peer took the record; never rejects. */
  const provide = async (cid: CID): Promise<boolean> => {
    const signal = AbortSignal.any([closing, AbortSignal.timeout(ANNOUNCE_TIMEOUT)])
    let reached = 0
    try {
      for await (const event of dht.provide(cid, { signal })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') reached++
      }
    } catch {
      // A failed or timed-out query is retried below when no peer took the record; any that did keep it.
    }
    return reached > 0
  }

  const scheduleRetry = (): void => {
    if (retryTimer != null || closing.aborted) return
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      retryDelay = Math.min(retryDelay * 2, ANNOUNCE_RETRY_MAX)
      queue.push(...waiting.splice(0))
      pump()
    }, retryDelay)
    // A retry must not keep the process alive on its own.
    retryTimer.unref()
  }

  const stop = (): void => {
    clearTimeout(retryTimer)
    retryTimer = undefined
    queue.length = 0
    waiting.length = 0
    known.clear()
  }
  closing.addEventListener('abort', stop, { once: true })

  return {
    announce(cids) {
      if (closing.aborted) return
      let first = true
      for (const cid of cids) {
        const key = cid.toString()
        if (known.has(key)) continue
        // Past the bound the rest is not announced now; kad-dht's reprovider does not know it either.
        if (known.size >= ANNOUNCE_MAX_PENDING) break
        known.add(key)
        if (first) queue.unshift(cid)
        else queue.push(cid)
        first = false
      }
      pump()
    },
    get pending() {
      return known.size
    },
    get announced() {
      return announced
    },
    stop
  }
}
