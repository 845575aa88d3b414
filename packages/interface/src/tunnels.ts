import type { CallOptions } from './options.js'

export interface OpenListenerOptions extends CallOptions {
  /** First write the connecting peer's id and `\n` to each new connection to your port. */
  reportPeerId?: boolean
  /** The IPv4 or IPv6 address your service listens on; default `127.0.0.1`. */
  host?: string
}

export interface OpenSenderOptions extends CallOptions {
  /** The local address to listen on for you; default `127.0.0.1`. */
  host?: string
}

export interface CloseListenerOptions extends CallOptions {
  /** Close it only if it forwards to this local port. */
  port?: number
}

export interface CloseSenderOptions extends CallOptions {
  /** Close only the sender listening on this local port. */
  port?: number
  /** Close only senders to this peer. */
  peerId?: string
}

/** The receiving end of a tunnel: other peers open `protocol` on this node and reach a local port. */
export interface TunnelListener {
  /** The protocol name, `/x/<name>`. */
  protocol: string
  /** `/p2p/<this node's peer id>`: where other peers reach it. */
  listenAddress: string
  /** The local service each incoming connection is forwarded to, e.g. `/ip4/127.0.0.1/tcp/8080`. */
  targetAddress: string
  /** The local service's port. */
  port: number
}

/** The sending end of a tunnel: a local port whose connections are forwarded to a peer's listener. */
export interface TunnelSender {
  /** The protocol name, `/x/<name>`. */
  protocol: string
  /** The local address to connect to, with the real port, e.g. `/ip4/127.0.0.1/tcp/40123`. */
  listenAddress: string
  /** `/p2p/<peer id>`: the peer whose listener receives the connections. */
  targetAddress: string
  /** The peer whose listener receives the connections. */
  peerId: string
  /** The local port to connect to. */
  port: number
}

export interface TunnelList {
  listeners: TunnelListener[]
  senders: TunnelSender[]
}

/**
 * Tunnels: TCP connections carried over libp2p streams (`/x/<name>`) between peers, as Kubo's
 * stream mounting (`ipfs p2p`) does.
 */
export interface Tunnels {
  /** Lets other peers reach a local TCP service: streams to `/x/<name>` on this node are forwarded to `host:port`. */
  openListener(name: string, port: number, options?: OpenListenerOptions): Promise<TunnelListener>
  /** Opens a local port (0: the OS picks) whose connections are forwarded to the listener `/x/<name>` on `peerId`. */
  openSender(name: string, port: number, peerId: string, options?: OpenSenderOptions): Promise<TunnelSender>
  /** Stops serving `/x/<name>`; resolves with how many listeners were closed (0 or 1). */
  closeListener(name: string, options?: CloseListenerOptions): Promise<number>
  /** Closes the senders of `/x/<name>`; resolves with how many were closed. */
  closeSender(name: string, options?: CloseSenderOptions): Promise<number>
  /** The tunnels on this node. */
  list(options?: CallOptions): Promise<TunnelList>
}
