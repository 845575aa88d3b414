import type { GossipSub, Message } from '@libp2p/gossipsub'
import {
  type CallOptions,
  DEFAULT_MAX_BUFFERED_BYTES,
  InvalidArgumentError,
  PUBSUB_MESSAGE_OVERHEAD,
  type Pubsub,
  type PubsubHandler,
  PubsubHandlerError,
  type PubsubMessage,
  type PubsubSubscribeOptions,
  type Subscription,
  SubscriptionOverflowError
} from '@tk/interface'
import { runCall } from './call.js'
import { MAX_PUBSUB_FRAME_BYTES, PUBSUB_FRAME_OVERHEAD } from './constants.js'

/** Pubsub on the embedded node: gossipsub (@libp2p/gossipsub), which Kubo's pubsub speaks too. */
export function createPubsub(gossipsub: GossipSub, closing: AbortSignal): Pubsub {
  /** Subscriptions per topic: gossipsub has one subscription per topic, we may hand out several. */
  const byTopic = new Map<string, Set<EmbeddedSubscription>>()

  const onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail
    const subscriptions = byTopic.get(message.topic)
    if (subscriptions == null) return
    const converted = toPubsubMessage(message)
    for (const subscription of subscriptions) subscription.receive(converted)
  }
  gossipsub.addEventListener('message', onMessage)
  closing.addEventListener(
    'abort',
    () => {
      gossipsub.removeEventListener('message', onMessage)
      for (const subscriptions of byTopic.values())
        for (const subscription of subscriptions) void subscription.close()
    },
    { once: true }
  )

  const remove = (subscription: EmbeddedSubscription): void => {
    const subscriptions = byTopic.get(subscription.topic)
    if (subscriptions == null) return
    subscriptions.delete(subscription)
    if (subscriptions.size === 0) {
      byTopic.delete(subscription.topic)
      // The node may be stopping already; then there is nothing left to unsubscribe from.
      if (!closing.aborted) gossipsub.unsubscribe(subscription.topic)
    }
  }

  return {
    subscribe: async (topic, handler?: PubsubHandler, options: PubsubSubscribeOptions = {}) => {
      checkTopic(topic)
      if (handler != null && typeof handler !== 'function')
        throw new InvalidArgumentError('handler', 'expected a function that takes a message')
      if (options.onError != null && typeof options.onError !== 'function')
        throw new InvalidArgumentError('onError', 'expected a function that takes an error')
      const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
      if (!Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes < 1)
        throw new InvalidArgumentError(
          'maxBufferedBytes',
          `expected a whole number of bytes >= 1, got ${maxBufferedBytes}`
        )
      return await runCall('pubsub.subscribe', options, closing, async () => {
        const subscription = new EmbeddedSubscription(topic, handler, options, maxBufferedBytes, remove)
        let subscriptions = byTopic.get(topic)
        if (subscriptions == null) {
          subscriptions = new Set()
          byTopic.set(topic, subscriptions)
          gossipsub.subscribe(topic)
        }
        subscriptions.add(subscription)
        return subscription
      })
    },

    publish: async (topic: string, data: string | Uint8Array, options: CallOptions = {}) => {
      checkTopic(topic)
      if (typeof data !== 'string' && !(data instanceof Uint8Array))
        throw new InvalidArgumentError('data', 'a pubsub message must be a string or a Uint8Array')
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
      const limit = maxMessageBytes(topic)
      if (bytes.byteLength > limit) {
        throw new InvalidArgumentError(
          'data',
          `a message of ${bytes.byteLength} bytes does not fit in a pubsub frame (at most ${limit} bytes of data on this topic: peers drop frames over ${MAX_PUBSUB_FRAME_BYTES} bytes without telling anyone); publish it as content and send its CID instead`
        )
      }
      await runCall('pubsub.publish', options, closing, async () => {
        await gossipsub.publish(topic, bytes)
      })
    },

    peers: async (topic?: string, options: CallOptions = {}) => {
      if (topic != null) checkTopic(topic)
      return await runCall('pubsub.peers', options, closing, async () =>
        (topic == null ? gossipsub.getPeers() : gossipsub.getSubscribers(topic)).map(peer => peer.toString())
      )
    },

    topics: async (options: CallOptions = {}) =>
      await runCall('pubsub.topics', options, closing, async () => gossipsub.getTopics())
  }
}

/** The most data one message on `topic` may carry and still reach Kubo and js-libp2p peers. */
export function maxMessageBytes(topic: string): number {
  return MAX_PUBSUB_FRAME_BYTES - PUBSUB_FRAME_OVERHEAD - new TextEncoder().encode(topic).byteLength
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic === '')
    throw new InvalidArgumentError(
      'topic',
      `a pubsub topic must be a non-empty string, got ${JSON.stringify(topic)}`
    )
}

function toPubsubMessage(message: Message): PubsubMessage {
  if (message.type === 'signed') {
    const seqno = new Uint8Array(8)
    new DataView(seqno.buffer).setBigUint64(0, message.sequenceNumber)
    return { from: message.from.toString(), data: message.data, seqno, topicIDs: [message.topic] }
  }
  return { from: '', data: message.data, seqno: new Uint8Array(0), topicIDs: [message.topic] }
}

const cost = (message: PubsubMessage): number => message.data.byteLength + PUBSUB_MESSAGE_OVERHEAD

/** A bounded queue: messages that would push it past `maxBytes` are dropped and counted. */
class BoundedQueue {
  readonly items: PubsubMessage[] = []
  bytes = 0
  /** Messages dropped since the last one that fit (one gap). */
  gap = 0

  constructor(readonly maxBytes: number) {}

  /** Adds a message unless it does not fit; returns whether it was added. `extra` counts bytes held elsewhere (the one being handled). */
  offer(message: PubsubMessage, extra = 0): boolean {
    if (this.bytes + extra + cost(message) > this.maxBytes) {
      this.gap++
      return false
    }
    this.items.push(message)
    this.bytes += cost(message)
    return true
  }

  take(): PubsubMessage | undefined {
    const message = this.items.shift()
    if (message != null) this.bytes -= cost(message)
    return message
  }
}

/**
 * One subscription: a handler queue (handled one at a time) and, apart, an iterator queue,
 * each bounded by `maxBufferedBytes` as @tk/api's subscriptions are.
 */
class EmbeddedSubscription implements Subscription {
  #closed = false
  #dropped = 0
  readonly #handlerQueue: BoundedQueue
  readonly #iteratorQueue: BoundedQueue
  /** Bytes of the message the handler is on (it counts toward the handler's bound). */
  #handling = 0
  #draining = false
  #iterating = 0
  #wake: (() => void) | undefined

  constructor(
    readonly topic: string,
    private readonly handler: PubsubHandler | undefined,
    private readonly options: PubsubSubscribeOptions,
    maxBufferedBytes: number,
    private readonly onClose: (subscription: EmbeddedSubscription) => void
  ) {
    this.#handlerQueue = new BoundedQueue(maxBufferedBytes)
    this.#iteratorQueue = new BoundedQueue(maxBufferedBytes)
    // Once subscribed, the signal closes the subscription (and its listener goes with it).
    options.signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  readonly #onAbort = (): void => {
    void this.close()
  }

  get closed(): boolean {
    return this.#closed
  }

  get dropped(): number {
    return this.#dropped
  }

  get buffered(): { messages: number; bytes: number } {
    return {
      messages:
        this.#handlerQueue.items.length + this.#iteratorQueue.items.length + (this.#handling > 0 ? 1 : 0),
      bytes: this.#handlerQueue.bytes + this.#iteratorQueue.bytes + this.#handling
    }
  }

  receive(message: PubsubMessage): void {
    if (this.#closed) return
    if (this.handler != null) {
      this.#offer(this.#handlerQueue, message, this.#handling)
      void this.#drain()
    }
    // Without a handler, messages wait for the iterator from the start; with one, only while someone iterates.
    if (this.handler == null || this.#iterating > 0) {
      this.#offer(this.#iteratorQueue, message, 0)
      this.#wake?.()
    }
  }

  #offer(queue: BoundedQueue, message: PubsubMessage, extra: number): void {
    const gapBefore = queue.gap
    if (!queue.offer(message, extra)) {
      this.#dropped++
      return
    }
    if (gapBefore > 0) {
      queue.gap = 0
      this.#report(new SubscriptionOverflowError(this.topic, gapBefore, queue.maxBytes))
    }
  }

  #report(error: Error): void {
    try {
      this.options.onError?.(error)
    } catch {
      // An onError that throws must not stop the subscription; there is nowhere else to report it.
    }
  }

  async #drain(): Promise<void> {
    if (this.#draining || this.handler == null) return
    this.#draining = true
    try {
      for (;;) {
        const message = this.#handlerQueue.take()
        if (message == null || this.#closed) return
        this.#handling = cost(message)
        try {
          await this.handler(message)
        } catch (error) {
          this.#report(new PubsubHandlerError(this.topic, message.from, { cause: error }))
        } finally {
          this.#handling = 0
        }
      }
    } finally {
      this.#draining = false
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.options.signal?.removeEventListener('abort', this.#onAbort)
    for (const queue of [this.#handlerQueue, this.#iteratorQueue]) {
      if (queue.gap > 0) this.#report(new SubscriptionOverflowError(this.topic, queue.gap, queue.maxBytes))
      queue.gap = 0
    }
    this.onClose(this)
    this.#wake?.()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PubsubMessage> {
    this.#iterating++
    try {
      for (;;) {
        const message = this.#iteratorQueue.take()
        if (message != null) {
          yield message
          continue
        }
        if (this.#closed) return
        await new Promise<void>(resolve => {
          this.#wake = resolve
        })
        this.#wake = undefined
      }
    } finally {
      this.#iterating--
      // Leaving a for-await loop ends the subscription, as @tk/api's does.
      await this.close()
    }
  }
}
