import { type CallOptions, CallTimeoutError, NodeClosedError } from '@tk/interface'
import { raceSignal } from 'race-signal'
import { DEFAULT_CALL_TIMEOUT } from './constants.js'

/**
 * Runs `work` with one signal that aborts on the caller's signal, on the call's deadline
 * (`CallTimeoutError`) and when the node closes (`NodeClosedError`), and settles on the first of
 * these even when `work` ignores its signal (Helia's block fetches may not notice it at once).
 */
export async function runCall<T>(
  operation: string,
  options: CallOptions,
  closing: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>
): Promise<T> {
  if (closing.aborted) throw new NodeClosedError(operation)
  options.signal?.throwIfAborted()
  const timeout = options.timeout ?? DEFAULT_CALL_TIMEOUT
  const controller = new AbortController()
  const abort = (reason: unknown): void => controller.abort(reason)
  const onCallerAbort = (): void => abort(options.signal?.reason)
  const onClose = (): void => abort(new NodeClosedError(operation))
  const timer = setTimeout(() => abort(new CallTimeoutError(operation, timeout)), timeout)
  options.signal?.addEventListener('abort', onCallerAbort, { once: true })
  closing.addEventListener('abort', onClose, { once: true })
  try {
    // raceSignal settles on the abort even when `work` ignores its signal; a later rejection of `work`
    // is expected then (it was aborted) and is not reported.
    return await raceSignal(work(controller.signal), controller.signal)
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onCallerAbort)
    closing.removeEventListener('abort', onClose)
  }
}
