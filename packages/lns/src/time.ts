/** Resolves after `ms`, or rejects with the signal's reason when it aborts first; leaves no timer behind. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** A signal that aborts when `parent` does or after `timeout` ms, whichever is first. Dispose it to clear the timer. */
export interface Deadline extends Disposable {
  readonly signal: AbortSignal
  /** Whether the deadline itself (not the parent) aborted the signal. */
  readonly timedOut: boolean
}

/** Makes a {@link Deadline}; call `[Symbol.dispose]()` when the work is done. */
export function createDeadline(parent: AbortSignal | undefined, timeout: number): Deadline {
  const controller = new AbortController()
  let timedOut = false
  const onAbort = (): void => controller.abort(parent?.reason)
  if (parent?.aborted === true) controller.abort(parent.reason)
  else parent?.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort(new DOMException(`The operation timed out after ${timeout} ms`, 'TimeoutError'))
  }, timeout)
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut
    },
    [Symbol.dispose]() {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onAbort)
    }
  }
}
