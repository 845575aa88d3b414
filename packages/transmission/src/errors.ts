import type { ErrorCode } from './protocol.js'

/**
 * A transmission failed. `code` says why (see PROTOCOL.md); `remote` is true when the other
 * side reported it, false when this side detected it.
 */
export class TransmissionError extends Error {
  static override readonly name = 'TransmissionError'
  override readonly name = 'TransmissionError'
  readonly code: ErrorCode
  readonly remote: boolean
  /** The other peer, when known. */
  readonly peerId: string | undefined
  readonly isRetryable: boolean

  constructor(
    code: ErrorCode,
    message: string,
    init: { remote?: boolean; peerId?: string; cause?: unknown } = {}
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    this.code = code
    this.remote = init.remote ?? false
    this.peerId = init.peerId
    this.isRetryable = code === 'busy' || code === 'idle-timeout' || code === 'internal'
  }
}

/** The other side closed the stream (or Kubo tore it down) before the transmission finished. */
export class StreamClosedError extends Error {
  static override readonly name = 'StreamClosedError'
  override readonly name = 'StreamClosedError'
  readonly isRetryable = true
  readonly peerId: string | undefined

  constructor(message: string, peerId?: string, options?: ErrorOptions) {
    super(message, options)
    this.peerId = peerId
  }
}

// Declared in @tk/rpc, beside the Kubo stream source that reports it (through a listener's `onError`).
export { ListenerTunnelLostError } from '@tk/rpc'
