import type { StreamSource } from '@tk/interface'
import { createKuboClient } from '@tk/rpc'
import { createKuboStreamSource, type KuboStreamSource } from '@tk/rpc/streams'
import type {
  Conversation,
  ConversationHandler,
  ConversationListenOptions,
  StartConversationOptions
} from './conversation.js'
import type { DataHandler, FileHandler, FileListenOptions, Listener, ListenOptions } from './listener.js'
import type { TransmitFileOptions, TransmitOptions } from './sender.js'
import { createTransmission, type Transmission } from './transmission.js'

/**
 * The one-line functions' choice of node: `ipfs` is anything with a `streams` source (an `ipfs`
 * of @tk/api's `createIpfs` or of @tk/embedded's `createEmbeddedIpfs`).
 */
export interface NodeOption {
  /** The node to use; default the Kubo daemon at IPFS_API, else the repo's api file, else 127.0.0.1:5001. */
  ipfs?: { readonly streams: StreamSource }
}

/**
 * The state of the one-line functions, the only state outside a component: the Kubo stream
 * source they use without `ipfs` (made at their first use; it stands for the daemon those
 * functions address by default, as @tk/api's default `ipfs` does), and one component per stream
 * source, so that calls to the same node share its idle streams (`reuse`). Nothing here keeps
 * the process alive: idle streams and forwards close after 2 s unused (their timers unref'd),
 * listeners with the `Listener`s handed out; a source no longer referenced takes its component
 * with it.
 */
let fallback: KuboStreamSource | undefined
const components = new WeakMap<StreamSource, Transmission>()

function transmissionOf(options: NodeOption | undefined): Transmission {
  if (options?.ipfs == null) fallback ??= createKuboStreamSource(createKuboClient())
  const streams = options?.ipfs?.streams ?? (fallback as KuboStreamSource)
  let transmission = components.get(streams)
  if (transmission == null) {
    transmission = createTransmission({ streams })
    components.set(streams, transmission)
  }
  return transmission
}

function withoutNode<T extends NodeOption>(options: T | undefined): Omit<T, 'ipfs'> | undefined {
  if (options == null) return undefined
  const { ipfs: _, ...rest } = options
  return rest
}

/**
 * Sends `data` to the listener `listenerName` on a peer (its id, or a contact's name with
 * `contacts`). Resolves once the receiver has checked the SHA-256 of everything it got; rejects
 * otherwise (`TransmissionError`, `StreamClosedError`, the abort reason).
 */
export async function transmitData(
  data: Uint8Array | string,
  peerIdOrName: string,
  listenerName: string,
  options?: TransmitOptions & NodeOption
): Promise<void> {
  await transmissionOf(options).transmitData(data, peerIdOrName, listenerName, withoutNode(options))
}

/**
 * Sends the file at `filePath` to the file listener `listenerName` on a peer, streamed in chunks.
 * Resolves when the receiver has the whole file under its final name with a matching SHA-256. A
 * stream that breaks off is reopened (`retries`) and continues where the receiver's `.part` ends.
 */
export async function transmitFile(
  filePath: string,
  peerIdOrName: string,
  listenerName: string,
  options?: TransmitFileOptions & NodeOption
): Promise<void> {
  await transmissionOf(options).transmitFile(filePath, peerIdOrName, listenerName, withoutNode(options))
}

/** Starts a conversation with the conversation listener `listenerName` on a peer; resolves once the peer joined. */
export async function startConversation(
  conversationName: string,
  peerIdOrName: string,
  listenerName: string,
  options?: StartConversationOptions & NodeOption
): Promise<Conversation> {
  return await transmissionOf(options).startConversation(
    conversationName,
    peerIdOrName,
    listenerName,
    withoutNode(options)
  )
}

/**
 * Receives data transmissions on `/x/<listenerName>`. `handler` is called with each one once it
 * has arrived intact (after the sender was told so); its errors go to `onError`.
 */
export async function listenForTransmissions(
  listenerName: string,
  handler: DataHandler,
  options?: ListenOptions & NodeOption
): Promise<Listener> {
  return await transmissionOf(options).listenForTransmissions(listenerName, handler, withoutNode(options))
}

/**
 * Receives files on `/x/<listenerName>` into `directory`. Each is written to a `.part` file,
 * checked by SHA-256 and only then given its (sanitized, never overwriting) name.
 */
export async function listenForFileTransmissions(
  listenerName: string,
  handler: FileHandler,
  options?: FileListenOptions & NodeOption
): Promise<Listener> {
  return await transmissionOf(options).listenForFileTransmissions(listenerName, handler, withoutNode(options))
}

/**
 * Serves conversations on `/x/<listenerName>`: `handler` gets each request and may `join()` it.
 * A request the handler neither joins nor ignores within the idle timeout is declined.
 */
export async function listenForConversations(
  listenerName: string,
  handler: ConversationHandler,
  options?: ConversationListenOptions & NodeOption
): Promise<Listener> {
  return await transmissionOf(options).listenForConversations(listenerName, handler, withoutNode(options))
}
