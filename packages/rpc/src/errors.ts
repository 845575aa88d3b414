/** What else {@link KuboRpcError} takes besides `cause`. */
export interface KuboRpcErrorOptions extends ErrorOptions {
  /**
   * How Kubo reported the error when it was not an HTTP response, said in the message instead of
   * `HTTP <status>`: e.g. `ipfs exited with code 1` from a transport that runs the CLI.
   */
  via?: string
}

/** Kubo answered with an error: an HTTP error status, or an `X-Stream-Error` trailer after a 200. */
export class KuboRpcError extends Error {
  static override readonly name = 'KuboRpcError'
  override readonly name = 'KuboRpcError'
  /** The command, e.g. `swarm/connect`. */
  readonly command: string
  /**
   * The HTTP status (200 when the error came mid-stream, in the trailer). Transports without HTTP
   * use the statuses Kubo's HTTP API would: 400 for a bad request, 500 otherwise, 200 mid-stream.
   */
  readonly status: number
  /** Kubo's own message. */
  readonly kuboMessage: string
  /** Kubo's error code: 0 normal, 1 client (bad request), 2 implementation, 3 rate limited, 4 forbidden. */
  readonly code: number
  /** Whether trying the same call again may succeed. */
  readonly isRetryable: boolean

  constructor(command: string, status: number, kuboMessage: string, code = 0, options?: KuboRpcErrorOptions) {
    const reported = options?.via ?? (status === 200 ? undefined : `HTTP ${status}`)
    const how = status === 200 ? (reported == null ? 'mid-stream' : `mid-stream; ${reported}`) : reported
    super(`Kubo refused ${command}: ${kuboMessage} (${how})`, options)
    this.command = command
    this.status = status
    this.kuboMessage = kuboMessage
    this.code = code
    // Kubo answers ordinary refusals ("not pinned", "file does not exist") with 500 as well, so
    // only rate limiting and gateway-style statuses say that trying again may help.
    this.isRetryable = code === 3 || status === 429 || status === 502 || status === 503 || status === 504
  }
}

/** Nothing answered at the API address: the daemon is not running, or it listens elsewhere. */
export class DaemonUnreachableError extends Error {
  static override readonly name = 'DaemonUnreachableError'
  override readonly name = 'DaemonUnreachableError'
  readonly isRetryable = true
  /** The API address that was tried. */
  readonly address: string
  readonly command: string

  constructor(address: string, command: string, reason: string, options?: ErrorOptions) {
    super(
      `Could not reach the Kubo daemon at ${address} for ${command} (${reason}). Is it running? Start it with \`ipfs daemon\`, or point IPFS_API (or the apiUrl option) at its API address (see Addresses.API in its config).`,
      options
    )
    this.address = address
    this.command = command
  }
}

/**
 * @tk/interface's mark of a call timeout (a registered symbol, so this package needs no dependency
 * on that one): with it, an `RpcTimeoutError` is also `instanceof CallTimeoutError`, the one
 * timeout error of both IPFS modes.
 */
const CALL_TIMEOUT: unique symbol = Symbol.for('@tk/interface:CallTimeoutError')

/** A call took longer than its `timeout`. Also `instanceof` @tk/interface's `CallTimeoutError`. */
export class RpcTimeoutError extends Error {
  static override readonly name = 'RpcTimeoutError'
  override readonly name = 'RpcTimeoutError'
  readonly isRetryable = true
  readonly [CALL_TIMEOUT] = true
  readonly command: string
  /** The command, as @tk/interface's `CallTimeoutError.operation` names what timed out. */
  readonly operation: string
  /** The timeout that ran out (ms). */
  readonly timeout: number

  constructor(command: string, timeout: number, options?: ErrorOptions) {
    super(
      `${command} did not finish within ${timeout} ms; pass a larger \`timeout\` if it needs longer`,
      options
    )
    this.command = command
    this.operation = command
    this.timeout = timeout
  }
}

/** The caller's `signal` aborted the call. */
export class AbortError extends Error {
  static override readonly name = 'AbortError'
  override readonly name = 'AbortError'
  readonly command: string

  constructor(command: string, options?: ErrorOptions) {
    super(`${command} was aborted`, options)
    this.command = command
  }
}

/** An argument was rejected before any request was made. */
export class InvalidArgumentError extends TypeError {
  static override readonly name = 'InvalidArgumentError'
  override readonly name = 'InvalidArgumentError'
  /** The argument's name, e.g. `cid`. */
  readonly argument: string

  constructor(argument: string, message: string, options?: ErrorOptions) {
    super(`Invalid ${argument}: ${message}`, options)
    this.argument = argument
  }
}

/**
 * Kubo has stream mounting (`Experimental.Libp2pStreamMounting`) off, so `p2p listen` and
 * `p2p forward` are refused. Here (not in @tk/api) so that every user of Kubo's tunnels, with or
 * without @tk/api, throws the same error that says how to fix it.
 */
export class StreamMountingDisabledError extends Error {
  static override readonly name = 'StreamMountingDisabledError'
  override readonly name = 'StreamMountingDisabledError'
  readonly isRetryable = false

  constructor(options?: ErrorOptions) {
    super(
      'Kubo has stream mounting (Experimental.Libp2pStreamMounting) turned off, so tunnels cannot be opened. ' +
        'Run `ipfs config --json Experimental.Libp2pStreamMounting true` and restart the daemon, ' +
        'or call `ipfs.checkStreamMounting({ enable: true })` and restart it.',
      options
    )
  }
}

/**
 * Kubo no longer has a served protocol's tunnel (its daemon restarted, `ipfs p2p close` removed
 * it, or the connection to its API broke): until it is back, peers find nobody listening. A
 * Kubo stream source reports it through `serve`'s `onError` and reopens the tunnel by itself.
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
