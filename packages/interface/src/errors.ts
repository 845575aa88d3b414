import type { IpfsMode } from './options.js'

/** A call that the node's mode cannot do, e.g. `tunnels.openListener` on a mode without tunnels. */
export class ModeNotSupportedError extends Error {
  static override readonly name = 'ModeNotSupportedError'
  override readonly name = 'ModeNotSupportedError'
  readonly isRetryable = false
  /** The group and function, e.g. `ipns.publish`. */
  readonly operation: string
  /** The mode that cannot do it. */
  readonly mode: IpfsMode

  /** `instead` says what to use instead, as a sentence ("Use a Kubo node (mode 'kubo') for IPNS."). */
  constructor(operation: string, mode: IpfsMode, instead: string, options?: ErrorOptions) {
    super(`${operation} is not supported in ${mode} mode. ${instead}`, options)
    this.operation = operation
    this.mode = mode
  }
}

/** A call was made on a node that was closed (`close()` or `await using` ended it). */
export class NodeClosedError extends Error {
  static override readonly name = 'NodeClosedError'
  override readonly name = 'NodeClosedError'
  readonly isRetryable = false
  /** The group and function that was called, e.g. `content.read`. */
  readonly operation: string

  constructor(operation: string, options?: ErrorOptions) {
    super(`${operation} was called after the IPFS node was closed; create a new one`, options)
    this.operation = operation
  }
}

/** An argument a call was given cannot be used; the message says which and what was expected. */
export class InvalidArgumentError extends Error {
  static override readonly name = 'InvalidArgumentError'
  override readonly name = 'InvalidArgumentError'
  readonly isRetryable = false
  /** The argument's (or option's) name. */
  readonly argument: string

  constructor(argument: string, problem: string, options?: ErrorOptions) {
    super(`Invalid ${argument}: ${problem}`, options)
    this.argument = argument
  }
}

/**
 * The mark of a call timeout, a registered symbol so that packages that do not depend on this one
 * can set it (@tk/rpc's `RpcTimeoutError`, the Kubo mode's timeouts) and so that two installed
 * copies of this package recognise each other's errors.
 */
export const CALL_TIMEOUT: unique symbol = Symbol.for('@tk/interface:CallTimeoutError')

/**
 * A call's `timeout` passed before it finished. `instanceof CallTimeoutError` is true for every
 * error that carries the {@link CALL_TIMEOUT} mark: the embedded mode's own, and the Kubo mode's
 * (`RpcTimeoutError` from @tk/rpc, whose `name` stays `RpcTimeoutError`), so one `catch` handles
 * a timeout in either mode.
 */
export class CallTimeoutError extends Error {
  static override readonly name = 'CallTimeoutError'
  /** Marked, or made by this class; a subclass keeps the ordinary `instanceof`. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asked about; subclasses inherit this method
    if (this !== CallTimeoutError) return Function.prototype[Symbol.hasInstance].call(this, value)
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { [CALL_TIMEOUT]?: unknown })[CALL_TIMEOUT] === true
    )
  }
  override readonly name = 'CallTimeoutError'
  readonly [CALL_TIMEOUT] = true
  readonly isRetryable = true
  /** The group and function, e.g. `content.read`. */
  readonly operation: string
  /** The deadline that passed (ms). */
  readonly timeout: number

  constructor(operation: string, timeout: number, options?: ErrorOptions) {
    super(
      `${operation} did not finish within its timeout of ${timeout} ms; retry with a longer timeout, or check that a peer holding what it needs is connected`,
      options
    )
    this.operation = operation
    this.timeout = timeout
  }
}

/** `content.read` met more bytes than its `maxBytes` allows. */
export class ContentTooLargeError extends Error {
  static override readonly name = 'ContentTooLargeError'
  override readonly name = 'ContentTooLargeError'
  readonly isRetryable = false
  /** What was read. */
  readonly cid: string
  /** The limit that was exceeded (bytes). */
  readonly maxBytes: number

  constructor(cid: string, maxBytes: number, options?: ErrorOptions) {
    super(
      `${cid} holds more than ${maxBytes} bytes (the maxBytes limit); use readStream() or download() for large content, or raise maxBytes`,
      options
    )
    this.cid = cid
    this.maxBytes = maxBytes
  }
}

/** Routing found no addresses for a peer: it is offline, or no peer we can ask knows it. */
export class PeerNotFoundError extends Error {
  static override readonly name = 'PeerNotFoundError'
  override readonly name = 'PeerNotFoundError'
  readonly isRetryable = true
  /** The peer that was looked for. */
  readonly peerId: string

  constructor(peerId: string, options?: ErrorOptions) {
    super(
      `Routing found no addresses for peer ${peerId}: it may be offline or not yet known to the peers this node can ask. ` +
        'Connect to a peer that knows it (or to the peer itself, with its multiaddr) and try again.',
      options
    )
    this.peerId = peerId
  }
}

/** A subscription's handler or iterator fell behind by `maxBufferedBytes`, so `dropped` messages were dropped. */
export class SubscriptionOverflowError extends Error {
  static override readonly name = 'SubscriptionOverflowError'
  override readonly name = 'SubscriptionOverflowError'
  readonly isRetryable = false
  readonly topic: string
  /** How many messages this gap lost. */
  readonly dropped: number

  constructor(topic: string, dropped: number, maxBufferedBytes: number, options?: ErrorOptions) {
    super(
      `The subscription to "${topic}" dropped ${dropped} message${dropped === 1 ? '' : 's'}: its handler or iterator was ${maxBufferedBytes} bytes behind. Handle messages faster, or subscribe with a larger maxBufferedBytes.`,
      options
    )
    this.topic = topic
    this.dropped = dropped
  }
}

/** A subscription's handler threw or rejected; the message it was given is attached. */
export class PubsubHandlerError extends Error {
  static override readonly name = 'PubsubHandlerError'
  override readonly name = 'PubsubHandlerError'
  readonly isRetryable = false
  readonly topic: string
  /** The message the handler failed on (its sender's peer id). */
  readonly from: string

  constructor(topic: string, from: string, options?: ErrorOptions) {
    super(`The handler of the subscription to "${topic}" failed on a message from ${from}`, options)
    this.topic = topic
    this.from = from
  }
}

/** No IPNS key of that name is in the node's keystore. */
export class IpnsKeyNotFoundError extends Error {
  static override readonly name = 'IpnsKeyNotFoundError'
  override readonly name = 'IpnsKeyNotFoundError'
  readonly isRetryable = false
  /** The name that was looked up. */
  readonly key: string

  constructor(key: string, options?: ErrorOptions) {
    super(
      `"${key}" is not a key in this node's keystore; create it with ipns.createKey() or list the keys with ipns.listKeys()`,
      options
    )
    this.key = key
  }
}

/**
 * A local file or directory given to a call (what `content.publish` reads, where `content.download`
 * writes) does not exist or cannot be used. One class for every mode, so `instanceof` holds for both.
 */
export class LocalPathError extends Error {
  static override readonly name = 'LocalPathError'
  override readonly name = 'LocalPathError'
  readonly isRetryable = false
  /** The path at fault: the argument itself, or the entry inside a directory that failed. */
  readonly path: string

  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`${path}: ${problem}`, options)
    this.path = path
  }
}
