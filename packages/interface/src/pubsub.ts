import type { CallOptions } from './options.js'

export interface PubsubMessage {
  /** The publisher's peer id. */
  from: string
  /** The payload; an empty payload arrives as an empty array. */
  data: Uint8Array
  /** The publisher's sequence number for this message. */
  seqno: Uint8Array
  /** The topics the message was published to. */
  topicIDs: string[]
}

/** Receives each message of a subscription, one at a time; a returned promise is awaited before the next. */
export type PubsubHandler = (message: PubsubMessage) => void | Promise<void>

export interface PubsubSubscribeOptions extends CallOptions {
  /**
   * Called with every error the subscription meets (a lost stream, a handler that threw as
   * `PubsubHandlerError`, an overflow as `SubscriptionOverflowError`); the subscription keeps going.
   */
  onError?: (error: Error) => void
  /** Aborts subscribing; once subscribed, closes the subscription. */
  signal?: AbortSignal
  /** How long subscribing may take to become live (ms); the subscription itself has no time limit. */
  timeout?: number
  /**
   * How many bytes of messages may wait for the handler (counting the one it is on) and, apart,
   * for the iterator; each message counts its data plus `PUBSUB_MESSAGE_OVERHEAD`. A message that
   * would not fit is dropped, counted in `dropped` and reported through `onError`. Default
   * `DEFAULT_MAX_BUFFERED_BYTES` (16 MiB).
   */
  maxBufferedBytes?: number
}

/**
 * A live subscription to a topic. Iterate it (`for await`) for its messages, or give `subscribe` a
 * handler. Leaving a `for await` loop closes the subscription, as `close()` does.
 */
export interface Subscription extends AsyncIterable<PubsubMessage>, AsyncDisposable {
  /** The topic subscribed to. */
  readonly topic: string
  /** Whether `close()` was called, the signal aborted, or the node was closed. */
  readonly closed: boolean
  /** Messages received but not yet handled or iterated, and the bytes they count for. */
  readonly buffered: { messages: number; bytes: number }
  /** How many messages were dropped because the handler or the iterator was behind by `maxBufferedBytes`. */
  readonly dropped: number
  /** Ends the subscription; iteration ends. Idempotent. */
  close(): Promise<void>
}

/**
 * Publish–subscribe messaging (gossipsub, compatible with Kubo's pubsub).
 */
export interface Pubsub {
  /** Subscribes to a topic; resolves once the subscription is live, so messages published from then on arrive. */
  subscribe(topic: string, handler?: PubsubHandler, options?: PubsubSubscribeOptions): Promise<Subscription>
  /** Publishes one message (a string is sent as UTF-8). */
  publish(topic: string, data: string | Uint8Array, options?: CallOptions): Promise<void>
  /** The peers this node exchanges messages with on a topic (on any topic when omitted). */
  peers(topic?: string, options?: CallOptions): Promise<string[]>
  /** The topics this node is subscribed to. */
  topics(options?: CallOptions): Promise<string[]>
}
