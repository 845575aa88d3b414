import type { Content } from './content.js'
import type { Ipns } from './ipns.js'
import type { CallOptions, IpfsMode } from './options.js'
import type { Peers } from './peers.js'
import type { Pubsub } from './pubsub.js'
import type { StreamSource } from './streams.js'
import type { Tunnels } from './tunnels.js'

/**
 * The programmer-friendly IPFS API on one node, grouped by what it is about. A call that the
 * node's mode cannot do rejects (or throws) `ModeNotSupportedError`, naming the call and what to
 * use instead.
 */
export interface Ipfs extends AsyncDisposable {
  /** `kubo`: a separate Kubo daemon (@tk/api); `embedded`: a node in this process (@tk/embedded). */
  readonly mode: IpfsMode
  /** Content: publish, predictCid, read, readStream, download, pin, unpin, pins, remove. */
  readonly content: Content
  /** IPNS: keys, publish, resolve. */
  readonly ipns: Ipns
  /** Pubsub: publish, subscribe, peers, topics. */
  readonly pubsub: Pubsub
  /** Peers: connect, disconnect, list, connections, isConnected, find, findProviders. */
  readonly peers: Peers
  /** Tunnels between local TCP ports and peers' `/x/<name>` protocols. */
  readonly tunnels: Tunnels
  /** Byte streams to and from peers on `/x/<name>`, for @tk/transmission. */
  readonly streams: StreamSource
  /** This node's peer id (Python toolkit: `my_id`). */
  peerId(options?: CallOptions): Promise<string>
  /** The addresses this node is reachable at, each ending in `/p2p/<its peer id>`. */
  addresses(options?: CallOptions): Promise<string[]>
  /** Ends what this object holds (an embedded node stops; a Kubo daemon keeps running). Idempotent. */
  close(): Promise<void>
}
