import type { CallOptions, StreamSource } from '@tk/interface'
import { InvalidArgumentError } from '@tk/rpc'
import {
  type Conversation,
  type ConversationHandler,
  type ConversationListenOptions,
  listenForConversations,
  type StartConversationOptions,
  startConversation
} from './conversation.js'
import { TransmissionError } from './errors.js'
import {
  type DataHandler,
  type FileHandler,
  type FileListenOptions,
  type Listener,
  type ListenOptions,
  listenForFileTransmissions,
  listenForTransmissions
} from './listener.js'
import type { ContactBook } from './options.js'
import { type TransmitFileOptions, type TransmitOptions, transmitData, transmitFile } from './sender.js'
import { DEFAULT_MAX_STREAMS_PER_LISTENER, REUSE_IDLE, StreamPool } from './stream-pool.js'

/**
 * What a component applies to all its calls and listeners unless a call says otherwise: a
 * call's own option always wins.
 */
export interface TransmissionDefaults
  extends Pick<
    ListenOptions,
    | 'idleTimeout'
    | 'concurrency'
    | 'maxQueued'
    | 'maxStreamsPerPeer'
    | 'queueTimeout'
    | 'openingTimeout'
    | 'maxOpening'
    | 'minRate'
    | 'rateWindow'
    | 'maxMessageSize'
    | 'onError'
  > {
  /** Lets every `peerId` argument be a contact's name too (see {@link ContactBook}). */
  contacts?: ContactBook
}

export interface TransmissionInit extends TransmissionDefaults {
  /**
   * Where streams come from: `ipfs.streams` of @tk/api's `createIpfs` (Kubo) or of
   * @tk/embedded's `createEmbeddedIpfs`, `createKuboStreamSource(client)` of `@tk/rpc/streams`,
   * or any other {@link StreamSource}. The component does not close it.
   */
  streams: StreamSource
  /**
   * Data transmissions kept in flight to one listener at once; later ones wait their turn (in
   * order, within their own `signal` / `timeout`) for a stream to come back instead of opening
   * more. Default 8, what a listener serves of one peer at once by default (`maxStreamsPerPeer`).
   */
  maxStreamsPerListener?: number
}

/**
 * Data, files and conversations with other peers over one {@link StreamSource}. All its state
 * (listeners, conversations, calls in flight) is its own: two components share nothing.
 * `close()` (or `await using`) ends all of it.
 */
export interface Transmission extends AsyncDisposable {
  /** This node's peer id, as other peers address it. */
  peerId(options?: CallOptions): Promise<string>
  /** Sends `data` to the data listener `listenerName` on a peer; resolves once the receiver checked its SHA-256. */
  transmitData(
    data: Uint8Array | string,
    peerIdOrName: string,
    listenerName: string,
    options?: TransmitOptions
  ): Promise<void>
  /** Sends the file at `filePath` to the file listener `listenerName` on a peer; resumes a transfer that broke off. */
  transmitFile(
    filePath: string,
    peerIdOrName: string,
    listenerName: string,
    options?: TransmitFileOptions
  ): Promise<void>
  /** Starts a conversation with the conversation listener `listenerName` on a peer; resolves once it joined. */
  startConversation(
    conversationName: string,
    peerIdOrName: string,
    listenerName: string,
    options?: StartConversationOptions
  ): Promise<Conversation>
  /** Receives data transmissions on `/x/<listenerName>`. */
  listenForTransmissions(
    listenerName: string,
    handler: DataHandler,
    options?: ListenOptions
  ): Promise<Listener>
  /** Receives files on `/x/<listenerName>` into `directory`. */
  listenForFileTransmissions(
    listenerName: string,
    handler: FileHandler,
    options?: FileListenOptions
  ): Promise<Listener>
  /** Serves conversation requests on `/x/<listenerName>`. */
  listenForConversations(
    listenerName: string,
    handler: ConversationHandler,
    options?: ConversationListenOptions
  ): Promise<Listener>
  /** The listeners open now. */
  readonly listeners: readonly Listener[]
  /** Closes every listener and conversation of this component and ends its calls in flight. Idempotent. */
  close(): Promise<void>
}

/** A transmission component over `init.streams`; see {@link Transmission}. */
export function createTransmission(init: TransmissionInit): Transmission {
  const { streams, maxStreamsPerListener, ...defaults } = init
  if (streams == null || typeof streams.open !== 'function' || typeof streams.serve !== 'function') {
    throw new TypeError('createTransmission needs `streams`: a StreamSource such as ipfs.streams')
  }
  if (
    maxStreamsPerListener !== undefined &&
    !(Number.isSafeInteger(maxStreamsPerListener) && maxStreamsPerListener > 0)
  ) {
    throw new InvalidArgumentError(
      'maxStreamsPerListener',
      `expected a positive whole number, got ${maxStreamsPerListener}`
    )
  }
  const closing = new AbortController()
  // Streams between data transmissions, for the next one to the same listener (`reuse`).
  const pool = new StreamPool(REUSE_IDLE, maxStreamsPerListener ?? DEFAULT_MAX_STREAMS_PER_LISTENER)
  const listeners = new Set<Listener>()
  const conversations = new Set<Conversation>()

  /** The call's options over the component's defaults, its signal also aborted by `close()`. */
  const withDefaults = <T extends CallOptions>(options: T | undefined): T => {
    if (closing.signal.aborted) throw closing.signal.reason
    const merged = { ...defaults, ...options } as T
    merged.signal =
      options?.signal == null ? closing.signal : AbortSignal.any([options.signal, closing.signal])
    return merged
  }
  const tracked = (conversation: Conversation): Conversation => {
    conversations.add(conversation)
    void conversation.closed.then(() => conversations.delete(conversation))
    return conversation
  }
  const listening = (listener: Listener): Listener => {
    listeners.add(listener)
    const close = async (): Promise<void> => {
      listeners.delete(listener)
      await listener.close()
    }
    return { protocol: listener.protocol, close, [Symbol.asyncDispose]: close }
  }
  /** Conversations that listener handlers join are this component's too. */
  const trackJoins =
    (handler: ConversationHandler): ConversationHandler =>
    request =>
      handler({
        peerId: request.peerId,
        name: request.name,
        join: async options => tracked(await request.join(options)),
        ignore: () => request.ignore()
      })

  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= (async () => {
      closing.abort(new TransmissionError('aborted', 'the transmission component was closed'))
      pool.close()
      await Promise.allSettled([
        ...[...listeners].map(async listener => await listener.close()),
        ...[...conversations].map(async conversation => await conversation.close())
      ])
      listeners.clear()
      conversations.clear()
    })()
    await closed
  }

  return {
    peerId: async options => await streams.peerId(options),
    transmitData: async (data, peerIdOrName, listenerName, options) =>
      await transmitData(streams, data, peerIdOrName, listenerName, withDefaults(options), pool),
    transmitFile: async (filePath, peerIdOrName, listenerName, options) =>
      await transmitFile(streams, filePath, peerIdOrName, listenerName, withDefaults(options)),
    startConversation: async (conversationName, peerIdOrName, listenerName, options) =>
      tracked(
        await startConversation(streams, conversationName, peerIdOrName, listenerName, withDefaults(options))
      ),
    listenForTransmissions: async (listenerName, handler, options) =>
      listening(await listenForTransmissions(streams, listenerName, handler, withDefaults(options))),
    listenForFileTransmissions: async (listenerName, handler, options) =>
      listening(await listenForFileTransmissions(streams, listenerName, handler, withDefaults(options))),
    listenForConversations: async (listenerName, handler, options) =>
      listening(
        await listenForConversations(streams, listenerName, trackJoins(handler), withDefaults(options))
      ),
    get listeners() {
      return [...listeners]
    },
    close,
    [Symbol.asyncDispose]: close
  }
}
