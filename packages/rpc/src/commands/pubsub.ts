import { setTimeout as sleep } from 'node:timers/promises'
import PQueue from 'p-queue'
import { entriesFromInput } from '../add-source.js'
import { PUBSUB_PUBLISH_RETRIES } from '../constants.js'
import { InvalidArgumentError, RpcTimeoutError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import type { RpcResponse } from '../transport.js'
import { checkPeerId, checkTopic } from '../validate.js'

export interface PubsubMessage {
  /** The publisher's peer id. */
  from: string
  /** The payload; empty payloads arrive as an empty array. */
  data: Uint8Array
  /** The publisher's sequence number for this message. */
  seqno: Uint8Array
  /** The topics the message was published to. */
  topicIDs: string[]
}

interface RawMessage {
  from?: string
  data?: string
  seqno?: string
  topicIDs?: string[] | null
}

/**
 * Kubo writes binary fields of its pubsub output (data, seqno, topics) as multibase base64url
 * (`u…`), on HTTP and in the CLI's JSON alike; other text is taken as its UTF-8 bytes.
 */
function decodeMultibase(value: string | undefined): Uint8Array {
  if (value == null || value === '') return new Uint8Array(0)
  if (value.startsWith('u')) return new Uint8Array(Buffer.from(value.slice(1), 'base64url'))
  return new TextEncoder().encode(value)
}

function decodeTopic(value: string): string {
  return new TextDecoder().decode(decodeMultibase(value))
}

/** A topic as the binary argument it is: each transport writes it its own way (see `RpcRequest.args`). */
function topicArgument(topic: string | Uint8Array): Uint8Array {
  const checked = checkTopic(topic)
  return typeof checked === 'string' ? new TextEncoder().encode(checked) : checked
}

function toMessage(raw: RawMessage): PubsubMessage {
  return {
    from: raw.from ?? '',
    data: decodeMultibase(raw.data),
    seqno: decodeMultibase(raw.seqno),
    topicIDs: list(raw.topicIDs).map(decodeTopic)
  }
}

async function* messages(response: RpcResponse): AsyncGenerator<PubsubMessage> {
  for await (const raw of response.ndjson<RawMessage>()) yield toMessage(raw)
}

/** A live subscription's messages; `return()` (or `break`, or the call's signal) ends it on the daemon. */
export type PubsubStream = AsyncGenerator<PubsubMessage, void, undefined>

function isValidationIgnored(error: unknown): boolean {
  return error instanceof Error && /validation ignored/i.test(error.message)
}

// Kubo drops messages whose per-peer seqno does not increase, and concurrent publishes from one
// daemon can fail with "validation ignored": one publish at a time per daemon, across clients.
const publishQueues = new Map<string, PQueue>()

function publishQueueFor(target: string): PQueue {
  let queue = publishQueues.get(target)
  if (queue == null) {
    queue = new PQueue({ concurrency: 1 })
    publishQueues.set(target, queue)
  }
  return queue
}

/** `pubsub/*`: publish-subscribe between peers (needs `Pubsub.Enabled` in the daemon's config). */
export function createPubsubCommands(invoker: Invoker) {
  return {
    /** The topics this node is subscribed to. */
    ls: async (options: CallOptions = {}): Promise<string[]> =>
      list((await invoker.json<{ Strings: string[] | null }>('pubsub/ls', options)).Strings).map(decodeTopic),

    /** The peers this node exchanges pubsub messages with, for one topic or all. */
    peers: async (topic?: string | Uint8Array, options: CallOptions = {}): Promise<string[]> =>
      list(
        (
          await invoker.json<{ Strings: string[] | null }>('pubsub/peers', options, {
            args: topic == null ? [] : [topicArgument(topic)]
          })
        ).Strings
      ),

    /**
     * Publishes one message. Publishes to one daemon are sent one at a time, and Kubo's
     * transient "validation ignored" refusal is retried.
     */
    pub: async (
      topic: string | Uint8Array,
      data: Uint8Array | string,
      options: CallOptions = {}
    ): Promise<void> => {
      const args = [topicArgument(topic)]
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
        throw new InvalidArgumentError('data', 'a pubsub payload must be a Uint8Array or a string')
      }
      // Looked up per call: a transport may learn its daemon's address only on first use.
      await publishQueueFor(invoker.transport.target).add(
        async () => {
          for (let attempt = 0; ; attempt++) {
            try {
              await invoker.none('pubsub/pub', options, { args, body: entriesFromInput(data) })
              return
            } catch (error) {
              if (!isValidationIgnored(error) || attempt >= PUBSUB_PUBLISH_RETRIES) throw error
              await sleep(20 * 2 ** attempt, undefined, { signal: options.signal })
            }
          }
        },
        { signal: options.signal }
      )
    },

    /**
     * Subscribes to a topic and yields its messages until the iteration stops (`break`) or the
     * signal aborts; either one ends the subscription on the daemon. No timeout applies.
     */
    sub: async function* (
      topic: string | Uint8Array,
      options: Omit<CallOptions, 'timeout'> = {}
    ): AsyncGenerator<PubsubMessage> {
      yield* messages(
        await invoker.transport.request(
          invoker.request(
            'pubsub/sub',
            { signal: options.signal },
            { args: [topicArgument(topic)], longLived: true }
          )
        )
      )
    },

    /**
     * Subscribes to a topic and resolves once Kubo has registered the subscription, so that a
     * message published from then on arrives; the stream then yields messages until it is ended
     * (`return()`, `break`) or `signal` aborts. `timeout` bounds the wait until the subscription is
     * live (ms), not the subscription.
     */
    subscribe: async (topic: string | Uint8Array, options: CallOptions = {}): Promise<PubsubStream> => {
      const args = [topicArgument(topic)]
      options.signal?.throwIfAborted()
      // The request must outlive the deadline, so the deadline aborts only the wait for it.
      const untilLive = new AbortController()
      const timer =
        options.timeout == null
          ? undefined
          : setTimeout(
              () => untilLive.abort(new RpcTimeoutError('pubsub/sub', options.timeout ?? 0)),
              options.timeout
            )
      const signal =
        options.signal == null ? untilLive.signal : AbortSignal.any([options.signal, untilLive.signal])
      try {
        const response = await invoker.transport.request(
          invoker.request('pubsub/sub', { signal }, { args, longLived: true })
        )
        return messages(response)
      } catch (error) {
        if (untilLive.signal.aborted && options.signal?.aborted !== true) throw untilLive.signal.reason
        throw error
      } finally {
        clearTimeout(timer)
      }
    },

    /** Forgets the seqno validator state for one peer (or all), so its restarted publisher is accepted again. */
    reset: async (options: CallOptions & { peer?: string } = {}): Promise<void> => {
      if (options.peer != null) checkPeerId(options.peer, 'peer')
      await invoker.none('pubsub/reset', options)
    }
  }
}
