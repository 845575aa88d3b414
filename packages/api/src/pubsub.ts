import { setTimeout as sleep } from 'node:timers/promises'
import {
  PubsubHandlerError as BasePubsubHandlerError,
  DEFAULT_MAX_BUFFERED_BYTES,
  NodeClosedError,
  PUBSUB_MESSAGE_OVERHEAD,
  type PubsubHandler,
  type PubsubSubscribeOptions,
  type Subscription,
  SubscriptionOverflowError
} from '@tk/interface'
import { AbortError, InvalidArgumentError, type PubsubMessage, type PubsubStream } from '@tk/rpc'
import type { ApiContext } from './context.js'
import { mapPubsubDisabled } from './errors.js'
import type { CallOptions } from './options.js'

// The shapes both modes share, declared once in @tk/interface.
export type { PubsubHandler, PubsubMessage, PubsubSubscribeOptions, Subscription }

/**
 * A subscription's handler threw or rejected. @tk/interface's error (same `name`, and `instanceof`
 * it holds), with the whole message the handler failed on besides its sender.
 */
export class PubsubHandlerError extends BasePubsubHandlerError {
  /** The message the handler failed on. */
  readonly pubsubMessage: PubsubMessage

  constructor(topic: string, pubsubMessage: PubsubMessage, options?: ErrorOptions) {
    super(topic, pubsubMessage.from, options)
    this.pubsubMessage = pubsubMessage
  }
}

// The same error as @tk/interface's (one class, so `name` and `instanceof` agree across modes).
export { SubscriptionOverflowError }

/** Kubo ended a subscription's stream without an error (the daemon shut down or restarted); it is being renewed. */
export class SubscriptionInterruptedError extends Error {
  static override readonly name = 'SubscriptionInterruptedError'
  override readonly name = 'SubscriptionInterruptedError'
  readonly isRetryable = true
  readonly topic: string

  constructor(topic: string, options?: ErrorOptions) {
    super(
      `Kubo ended the subscription to "${topic}" (did the daemon stop or restart?); subscribing again`,
      options
    )
    this.topic = topic
  }
}

// Shared with @tk/interface, so both modes buffer alike.
export { DEFAULT_MAX_BUFFERED_BYTES, PUBSUB_MESSAGE_OVERHEAD }

/** The first resubscription is immediate; later ones wait this long, doubling each time (ms). */
const RESUBSCRIBE_INITIAL_DELAY = 100
/** The longest wait between resubscriptions while the daemon is down (ms). */
const RESUBSCRIBE_MAX_DELAY = 5_000
/** A stream that stayed open this long counts as healthy: the next failure resubscribes at once again (ms). */
const HEALTHY_STREAM = 5_000
/** How long one attempt to subscribe may take to become live, unless `timeout` says otherwise (ms). */
const LIVE_TIMEOUT = 30_000
function checkTopicText(topic: string, argument = 'topic'): string {
  if (typeof topic !== 'string' || topic === '') {
    throw new InvalidArgumentError(
      argument,
      `a pubsub topic must be a non-empty string, got ${JSON.stringify(topic)}`
    )
  }
  return topic
}

/** The transport was closed under the subscription (`ipfs.close()`): nothing to resubscribe with. */
function isTransportClosed(error: unknown): boolean {
  if (error instanceof AbortError || error instanceof NodeClosedError) return true
  const code = (error as { code?: unknown } | null)?.code
  return code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED'
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

/** One subscription request to Kubo. */
interface Attempt {
  /** The live subscription's messages. */
  readonly stream: PubsubStream
  /** Ends this request. */
  readonly controller: AbortController
}

/** Messages waiting for one consumer, bounded by the bytes they count for. */
class MessageBuffer {
  readonly #max: number
  #items: PubsubMessage[] = []
  #bytes = 0

  constructor(max: number) {
    this.#max = max
  }

  get messages(): number {
    return this.#items.length
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Adds `message` unless the bound would be passed; a lone message always fits, however large. */
  offer(message: PubsubMessage): boolean {
    const cost = costOf(message)
    if (this.#items.length > 0 && this.#bytes + cost > this.#max) return false
    this.#items.push(message)
    this.#bytes += cost
    return true
  }

  peek(): PubsubMessage | undefined {
    return this.#items[0]
  }

  take(): PubsubMessage | undefined {
    const message = this.#items.shift()
    if (message != null) this.#bytes -= costOf(message)
    return message
  }

  clear(): void {
    this.#items = []
    this.#bytes = 0
  }
}

function costOf(message: PubsubMessage): number {
  return message.data.byteLength + PUBSUB_MESSAGE_OVERHEAD
}

function checkMaxBufferedBytes(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_BUFFERED_BYTES
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      'maxBufferedBytes',
      `expected a whole number of bytes >= 1, got ${String(value)}: a subscription's buffer is always bounded`
    )
  }
  return value
}

class PubsubSubscription implements Subscription {
  readonly topic: string
  readonly #context: ApiContext
  readonly #handler: PubsubHandler | undefined
  readonly #onError: ((error: Error) => void) | undefined
  readonly #liveTimeout: number
  readonly #closer = new AbortController()
  readonly #callerSignal: AbortSignal | undefined
  readonly #onCallerAbort = (): void => {
    void this.close()
  }
  readonly #maxBufferedBytes: number
  /** Messages not yet taken by the iterator. */
  readonly #queue: MessageBuffer
  /** Messages for the handler; the first is the one it is on. */
  readonly #handlerQueue: MessageBuffer
  #handling = false
  /** `next()` calls waiting for a message. */
  #waiting: Array<(result: IteratorResult<PubsubMessage, undefined>) => void> = []
  #iterating = false
  #running: Promise<void> = Promise.resolve()
  #dropped = 0
  /** Messages dropped since the last one taken in: reported as one gap. */
  #gap = 0

  constructor(
    topic: string,
    context: ApiContext,
    handler: PubsubHandler | undefined,
    options: PubsubSubscribeOptions
  ) {
    this.topic = topic
    this.#context = context
    this.#handler = handler
    this.#onError = options.onError
    this.#liveTimeout = options.timeout ?? LIVE_TIMEOUT
    this.#callerSignal = options.signal
    this.#maxBufferedBytes = checkMaxBufferedBytes(options.maxBufferedBytes)
    this.#queue = new MessageBuffer(this.#maxBufferedBytes)
    this.#handlerQueue = new MessageBuffer(this.#maxBufferedBytes)
  }

  get closed(): boolean {
    return this.#closer.signal.aborted
  }

  get buffered(): { messages: number; bytes: number } {
    return {
      messages: this.#queue.messages + this.#handlerQueue.messages,
      bytes: this.#queue.bytes + this.#handlerQueue.bytes
    }
  }

  get dropped(): number {
    return this.#dropped
  }

  /** Makes the first attempt; rejects (leaving nothing open) when it cannot become live. */
  async start(): Promise<void> {
    this.#callerSignal?.throwIfAborted()
    this.#callerSignal?.addEventListener('abort', this.#onCallerAbort, { once: true })
    let attempt: Attempt
    try {
      attempt = await this.#subscribe()
    } catch (error) {
      this.#end()
      // A caller's abort reads as one, whichever request it interrupted.
      if (this.#callerSignal?.aborted === true) throw new AbortError('pubsub/sub', { cause: error })
      throw error
    }
    this.#running = this.#run(attempt)
  }

  async close(): Promise<void> {
    this.#end()
    await this.#running
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  [Symbol.asyncIterator](): AsyncIterator<PubsubMessage, undefined> {
    this.#iterating = true
    return {
      next: async (): Promise<IteratorResult<PubsubMessage, undefined>> => {
        const message = this.#queue.take()
        if (message != null) return { done: false, value: message }
        if (this.closed) return { done: true, value: undefined }
        return await new Promise(resolve => this.#waiting.push(resolve))
      },
      return: async (): Promise<IteratorResult<PubsubMessage, undefined>> => {
        await this.close()
        return { done: true, value: undefined }
      }
    }
  }

  /** Starts a request and resolves once Kubo has registered the subscription. */
  async #subscribe(): Promise<Attempt> {
    const controller = new AbortController()
    const signal = AbortSignal.any([this.#closer.signal, controller.signal])
    try {
      const stream = await this.#context.client.pubsub.subscribe(this.topic, {
        signal,
        timeout: this.#liveTimeout
      })
      return { stream, controller }
    } catch (error) {
      controller.abort()
      throw error
    }
  }

  async #run(first: Attempt): Promise<void> {
    let attempt: Attempt | undefined = first
    let failures = 0
    while (!this.closed) {
      let openedAt: number | undefined
      try {
        attempt ??= await this.#subscribe()
        openedAt = Date.now()
        for await (const message of attempt.stream) {
          failures = 0
          this.#deliver(message)
        }
        if (!this.closed) this.#report(new SubscriptionInterruptedError(this.topic))
      } catch (error) {
        if (this.closed) break
        if (isTransportClosed(error)) {
          this.#end()
          break
        }
        this.#report(toError(error))
      } finally {
        attempt?.controller.abort()
        attempt = undefined
      }
      if (openedAt != null && Date.now() - openedAt >= HEALTHY_STREAM) failures = 0
      const wait =
        failures === 0 ? 0 : Math.min(RESUBSCRIBE_INITIAL_DELAY * 2 ** (failures - 1), RESUBSCRIBE_MAX_DELAY)
      failures++
      // Closing ends the wait early; the loop then sees that it is closed.
      await sleep(wait, undefined, { signal: this.#closer.signal }).catch(() => {})
    }
  }

  /**
   * Hands a message to the handler's queue and the iterator's, never waiting: a stalled stream
   * would only move the loss into Kubo, which drops messages for a subscriber that does not keep
   * up, and says nothing. Here a consumer that is behind by `maxBufferedBytes` loses the message,
   * and it is counted and reported.
   */
  #deliver(message: PubsubMessage): void {
    let taken = true
    if (this.#handler != null) {
      if (this.#handlerQueue.offer(message)) void this.#handle()
      else taken = false
    }
    if (this.#handler == null || this.#iterating) {
      const waiting = this.#waiting.shift()
      if (waiting != null) waiting({ done: false, value: message })
      else if (!this.#queue.offer(message)) taken = false
    }
    if (!taken) {
      this.#dropped++
      this.#gap++
    } else {
      this.#endGap()
    }
  }

  #endGap(): void {
    if (this.#gap === 0) return
    const dropped = this.#gap
    this.#gap = 0
    this.#report(new SubscriptionOverflowError(this.topic, dropped, this.#maxBufferedBytes))
  }

  /** Runs the handler on each queued message in turn; the message stays counted until it returns. */
  async #handle(): Promise<void> {
    const handler = this.#handler
    if (handler == null || this.#handling) return
    this.#handling = true
    try {
      for (let message = this.#handlerQueue.peek(); message != null; message = this.#handlerQueue.peek()) {
        if (this.closed) break
        try {
          await handler(message)
        } catch (error) {
          this.#report(new PubsubHandlerError(this.topic, message, { cause: error }))
        }
        this.#handlerQueue.take()
      }
    } finally {
      this.#handling = false
    }
  }

  #report(error: Error): void {
    try {
      this.#onError?.(error)
    } catch {
      // An onError that throws has nobody left to tell; the subscription must go on.
    }
  }

  #end(): void {
    if (!this.closed) this.#closer.abort()
    this.#callerSignal?.removeEventListener('abort', this.#onCallerAbort)
    this.#endGap()
    this.#queue.clear()
    this.#handlerQueue.clear()
    for (const resolve of this.#waiting.splice(0)) resolve({ done: true, value: undefined })
  }
}

/** Pubsub functions: subscribe (resubscribing across daemon restarts), publish, topics and peers. */
export function createPubsubFunctions(context: ApiContext) {
  const { client } = context
  const callOptions = (options: CallOptions): CallOptions => ({
    signal: options.signal,
    timeout: options.timeout
  })

  return {
    /**
     * Subscribes to a topic; resolves once Kubo has registered the subscription, so messages
     * published from then on arrive. Messages go to `handler`, or to iteration of the returned
     * subscription. When the stream breaks (the daemon restarted), it subscribes again at once, then
     * every 100 ms doubling to 5 s while the daemon is down. `options.timeout` bounds each attempt
     * to become live (default 30 s); a failed resubscription goes to `options.onError`, and without
     * it the subscription recovers silently.
     */
    pubsubSubscribe: async (
      topic: string,
      handler?: PubsubHandler,
      options: PubsubSubscribeOptions = {}
    ): Promise<Subscription> => {
      checkTopicText(topic)
      if (handler != null && typeof handler !== 'function') {
        throw new InvalidArgumentError('handler', 'expected a function that takes a message')
      }
      if (options.onError != null && typeof options.onError !== 'function') {
        throw new InvalidArgumentError('onError', 'expected a function that takes an error')
      }
      const subscription = new PubsubSubscription(topic, context, handler, options)
      await subscription.start().catch((error: unknown) => {
        throw mapPubsubDisabled(error)
      })
      return subscription
    },

    /**
     * Publishes one message. Publishes to one daemon go out one at a time, in call order. Kubo
     * (0.40+) ignores a message from a peer that it validates after a later one from the same
     * peer, and validates incoming messages concurrently: a fast burst can lose a few messages in
     * the receiving daemon. Where every message counts, have receivers acknowledge.
     */
    pubsubPublish: async (
      topic: string,
      data: string | Uint8Array,
      options: CallOptions = {}
    ): Promise<void> => {
      checkTopicText(topic)
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
        throw new InvalidArgumentError('data', 'a pubsub message must be a string or a Uint8Array')
      }
      await client.pubsub.pub(topic, data, callOptions(options)).catch((error: unknown) => {
        throw mapPubsubDisabled(error)
      })
    },

    /** The peers this node exchanges messages with on a topic (on any topic when omitted). */
    pubsubPeers: async (topic?: string, options: CallOptions = {}): Promise<string[]> => {
      if (topic != null) checkTopicText(topic)
      return await client.pubsub.peers(topic, callOptions(options)).catch((error: unknown) => {
        throw mapPubsubDisabled(error)
      })
    },

    /** The topics this node is subscribed to. */
    pubsubTopics: async (options: CallOptions = {}): Promise<string[]> =>
      await client.pubsub.ls(callOptions(options)).catch((error: unknown) => {
        throw mapPubsubDisabled(error)
      })
  }
}
