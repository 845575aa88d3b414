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

/**
 * Kubo no longer has a listener's tunnel (its daemon restarted, `ipfs p2p close` removed it, or the
 * connection to its API broke): until it is back, peers find nobody listening. The listener
 * reports this through `onError` and reopens the tunnel by itself, with backoff, until closed.
 */
export class ListenerTunnelLostError extends Error {
  static override readonly name = 'ListenerTunnelLostError'
  override readonly name = 'ListenerTunnelLostError'
  readonly isRetryable = true
  readonly protocol: string

  constructor(protocol: string, options?: ErrorOptions) {
    super(
      `Kubo lost the tunnel of the listener ${protocol}; reopening it as soon as Kubo takes it again`,
      options
    )
    this.protocol = protocol
  }
}
