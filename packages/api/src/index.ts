/**
 * @packageDocumentation
 *
 * The programmer-friendly IPFS API: publish, download, IPNS, pubsub, peers and tunnels on a Kubo
 * node, over its HTTP API or, when that cannot be used, the `ipfs` command line.
 *
 * @example
 *
 * ```ts
 * import { ipfs } from '@tk/api'
 *
 * const cid = await ipfs.publish(new TextEncoder().encode('hello world')) // a string is a local path
 * console.log(cid, new TextDecoder().decode(await ipfs.read(cid)))
 * ```
 */

import { createIpfs } from './ipfs.js'

export { KuboBinaryNotFoundError } from '@tk/cli-backend'
export type { Ipfs as GroupedIpfs, IpfsMode } from '@tk/interface'
export { ModeNotSupportedError, NodeClosedError } from '@tk/interface'
export {
  AbortError,
  DaemonUnreachableError,
  InvalidArgumentError,
  KuboRpcError,
  RpcTimeoutError
} from '@tk/rpc'
export { httpAuthorization } from './backend.js'
export {
  ContentTooLargeError,
  type DownloadOptions,
  type PinnedCid,
  type PinsOptions,
  type PublishInput,
  type PublishOptions,
  type ReadAllOptions,
  type ReadOptions,
  UnsafeArchiveError
} from './content.js'
export {
  type DaemonHandle,
  DaemonStartError,
  type ExistingDaemon,
  type StartDaemonOptions,
  type StartedDaemon,
  type StopDaemonOptions
} from './daemon.js'
export {
  EmbeddedNotInstalledError,
  LocalPathError,
  NoIpfsNodeError,
  PubsubDisabledError,
  StreamMountingDisabledError
} from './errors.js'
export { createIpfs, type Ipfs } from './ipfs.js'
export {
  type CreateIpnsKeyOptions,
  type IpnsFilePublication,
  IpnsKeyNotFoundError,
  type IpnsPublication,
  type IpnsRecordOptions,
  type ResolveIpnsOptions,
  type UpdateIpnsRecordOptions
} from './ipns.js'
export type { WaitOptions } from './node.js'
export { type OpenIpfsOptions, openIpfs } from './open.js'
export type { BackendName, CallOptions, IpfsOptions } from './options.js'
export {
  type ConnectToPeerOptions,
  type FindProvidersOptions,
  type IsPeerConnectedOptions,
  type PeerAddressInfo,
  type PeerConnection,
  PeerNotFoundError
} from './peers.js'
export {
  DEFAULT_MAX_BUFFERED_BYTES,
  PUBSUB_MESSAGE_OVERHEAD,
  type PubsubHandler,
  PubsubHandlerError,
  type PubsubMessage,
  type PubsubSubscribeOptions,
  type Subscription,
  SubscriptionInterruptedError,
  SubscriptionOverflowError
} from './pubsub.js'
export type {
  CheckStreamMountingOptions,
  CloseListenerOptions,
  CloseSenderOptions,
  OpenListenerOptions,
  OpenSenderOptions,
  StreamMountingStatus,
  TunnelListener,
  TunnelSender,
  Tunnels
} from './tunnels.js'

/** A ready instance for quick scripts: `auto` backend, the default API address. */
export const ipfs = createIpfs()
