import type { CallOptions } from './options.js'

/** Where a peer can be reached. */
export interface PeerAddressInfo {
  /** The peer id. */
  id: string
  /** Its multiaddrs, each ending in `/p2p/<id>` so that `connect` takes them as they are. */
  addresses: string[]
}

/** One open connection to a peer. */
export interface PeerConnection {
  /** The peer at the other end. */
  peerId: string
  /** The connection's remote multiaddr, ending in `/p2p/<peerId>`: the address that is in use. */
  address: string
  /** `outbound` when this node dialled it, `inbound` when the peer did; absent when the node cannot tell. */
  direction?: 'inbound' | 'outbound'
}

export interface ConnectOptions extends CallOptions {
  /** The peer to reach when the multiaddr does not end in `/p2p/<peerId>` itself. */
  peerId?: string
}

export interface IsConnectedOptions extends CallOptions {
  /** Send one ping (default true): true only when the peer answers. With `false`, only looks for an open connection. */
  ping?: boolean
}

export interface FindProvidersOptions extends CallOptions {
  /** Stop the search after this many providers (default 20). */
  maxProviders?: number
}

/**
 * Peers: connecting, listing (peers and their connections), finding.
 */
export interface Peers {
  /** Connects to a peer at a multiaddr (ending in `/p2p/<peer id>`, or pass `peerId`); resolves with its peer id. */
  connect(multiaddr: string, options?: ConnectOptions): Promise<string>
  /** Closes every connection to a peer; resolves with whether there was one. */
  disconnect(peerId: string, options?: CallOptions): Promise<boolean>
  /** The peer ids this node has open connections to, each once. */
  list(options?: CallOptions): Promise<string[]>
  /** The open connections to a peer, each with the address it uses; empty when there is none. */
  connections(peerId: string, options?: CallOptions): Promise<PeerConnection[]>
  /** Whether a peer is connected (and, by default, answers a ping). */
  isConnected(peerId: string, options?: IsConnectedOptions): Promise<boolean>
  /** A peer's addresses, from open connections or routing; rejects with `PeerNotFoundError` when none is known. */
  find(peerId: string, options?: CallOptions): Promise<PeerAddressInfo>
  /** Peers that announce they provide a CID, found through routing; each peer id once. */
  findProviders(cid: string, options?: FindProvidersOptions): Promise<string[]>
}
