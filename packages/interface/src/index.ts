/**
 * @packageDocumentation
 *
 * The programmer-friendly IPFS API declared as TypeScript interfaces, grouped by what it is about
 * (`content`, `ipns`, `pubsub`, `peers`, `tunnels`, `streams`), with the errors every
 * implementation shares. A Kubo daemon (@tk/api) and an embedded node (@tk/embedded) implement
 * it; code written against it runs on either.
 *
 * @example
 *
 * ```ts
 * import type { Ipfs } from '@tk/interface'
 *
 * export async function share(ipfs: Ipfs, text: string): Promise<string> {
 *   const cid = await ipfs.content.publish(new TextEncoder().encode(text), { timeout: 10_000 })
 *   await ipfs.pubsub.publish('shared', cid)
 *   return cid
 * }
 * ```
 */

export { DEFAULT_MAX_BUFFERED_BYTES, PUBSUB_MESSAGE_OVERHEAD } from './constants.js'
export type {
  Content,
  DownloadOptions,
  PinnedCid,
  PinsOptions,
  PinType,
  PublishInput,
  PublishOptions,
  ReadAllOptions,
  ReadOptions
} from './content.js'
export {
  CALL_TIMEOUT,
  CallTimeoutError,
  ContentTooLargeError,
  InvalidArgumentError,
  IpnsKeyNotFoundError,
  LocalPathError,
  ModeNotSupportedError,
  NodeClosedError,
  PeerNotFoundError,
  PubsubHandlerError,
  SubscriptionOverflowError
} from './errors.js'
export type { Ipfs } from './ipfs.js'
export type {
  CreateIpnsKeyOptions,
  Ipns,
  IpnsFilePublication,
  IpnsKey,
  IpnsPublication,
  IpnsRecordOptions,
  PublishIpnsFileOptions,
  ResolveIpnsOptions
} from './ipns.js'
export type { CallOptions, IpfsMode } from './options.js'
export type {
  ConnectOptions,
  FindProvidersOptions,
  IsConnectedOptions,
  PeerAddressInfo,
  PeerConnection,
  Peers
} from './peers.js'
export type {
  Pubsub,
  PubsubHandler,
  PubsubMessage,
  PubsubSubscribeOptions,
  Subscription
} from './pubsub.js'
export type { PeerStream, ServeOptions, StreamHandler, StreamServer, StreamSource } from './streams.js'
export type {
  CloseListenerOptions,
  CloseSenderOptions,
  OpenListenerOptions,
  OpenSenderOptions,
  TunnelList,
  TunnelListener,
  TunnelSender,
  Tunnels
} from './tunnels.js'
