/**
 * @packageDocumentation
 *
 * Peer-to-peer data, files and conversations between IPFS nodes, by peer id, over Kubo's libp2p
 * stream mounting. The wire protocol is in PROTOCOL.md.
 *
 * @example
 *
 * ```ts
 * import { listenForTransmissions, transmitData } from '@tk/transmission'
 *
 * // on one node
 * await using inbox = await listenForTransmissions('inbox', (data, peerId) => console.log(peerId, data))
 * // on another: resolves once the receiver checked the SHA-256 of what it got
 * await transmitData('hello', '12D3KooW…', 'inbox')
 * ```
 */

export {
  Conversation,
  type ConversationHandler,
  type ConversationListenerPlugin,
  type ConversationListenOptions,
  type ConversationOptions,
  type ConversationRequest,
  type ConversationSenderPlugin,
  type StartConversationOptions
} from './conversation.js'
export { ListenerTunnelLostError, StreamClosedError, TransmissionError } from './errors.js'
export { MAX_FILE_NAME_BYTES, sanitizeFileName } from './file-names.js'
export type {
  DataHandler,
  FileHandler,
  FileListenOptions,
  ForeignHook,
  ForeignIncoming,
  Listener,
  ListenerPlugin,
  ListenOptions,
  ReceivedFile
} from './listener.js'
export {
  listenForConversations,
  listenForFileTransmissions,
  listenForTransmissions,
  type NodeOption,
  startConversation,
  transmitData,
  transmitFile
} from './one-line.js'
export {
  CHUNK_SIZE,
  type ContactBook,
  contactsOnly,
  DEFAULT_MAX_MESSAGE_SIZE,
  MAX_METADATA_BYTES,
  type PeerOptions,
  type Transform
} from './options.js'
export type { WirePlugin } from './plugin.js'
export { ERROR_CODES, type ErrorCode, PROTOCOL_VERSION } from './protocol.js'
export type { Progress, SenderPlugin, TransmitFileOptions, TransmitOptions } from './sender.js'
export { createStreamPair } from './stream-pair.js'
export {
  createTransmission,
  type Transmission,
  type TransmissionDefaults,
  type TransmissionInit
} from './transmission.js'
