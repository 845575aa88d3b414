import { setTimeout as sleep } from 'node:timers/promises'
import { raceSignal } from 'race-signal'
import { POLL_INTERVAL } from './constants.js'
import { WaitTimeoutError } from './errors.js'

/** A promise with its `resolve` outside, for values that a callback delivers later. */
export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {}
  const promise = new Promise<T>(settle => {
    resolve = settle
  })
  return { promise, resolve }
}

/**
 * `promise`'s value, or a rejection when `signal` aborts (its reason) or `timeout` ms pass first
 * (`WaitTimeoutError` naming `what`).
 */
export async function waitFor<T>(
  promise: Promise<T>,
  what: string,
  timeout: number,
  signal: AbortSignal
): Promise<T> {
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(new WaitTimeoutError(what, timeout)), timeout)
  try {
    return await raceSignal(promise, AbortSignal.any([signal, deadline.signal]))
  } finally {
    clearTimeout(timer)
  }
}

/** Asks `check` every 100 ms until it says yes; `WaitTimeoutError` naming `what` after `timeout` ms. */
export async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  timeout: number,
  signal: AbortSignal
): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, timeout)
    // node:timers/promises rejects with its own AbortError; the caller's reason says more.
    await sleep(POLL_INTERVAL, undefined, { signal }).catch((error: unknown) => {
      throw signal.aborted ? signal.reason : error
    })
  }
}
