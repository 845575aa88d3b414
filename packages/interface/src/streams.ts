import type { CallOptions } from './options.js'

/**
 * One byte stream between two peers (a libp2p stream, or a TCP connection through a Kubo tunnel).
 * Reading: iterate it. Writing: `write`, which waits while the other side is not reading.
 */
export interface PeerStream extends AsyncIterable<Uint8Array>, AsyncDisposable {
  /** The peer at the other end, as the network authenticated it (its connection's peer id). */
  readonly remotePeerId: string
  /**
   * Sends bytes; resolves once the stream can take more (backpressure). The bytes are queued
   * whole when the call is made, in call order, even while an earlier write waits: writers that
   * do not await each other never interleave inside one write.
   */
  write(data: Uint8Array, options?: CallOptions): Promise<void>
  /** Ends our side of the stream (the other side's iteration ends); reading may go on. */
  closeWrite(options?: CallOptions): Promise<void>
  /** Closes both directions gracefully. Idempotent. */
  close(options?: CallOptions): Promise<void>
  /** Ends the stream at once, e.g. after a protocol violation; the other side sees an error. */
  abort(error?: Error): void
}

/** Receives each incoming stream; it owns the stream (close it when done). */
export type StreamHandler = (stream: PeerStream) => void | Promise<void>

/** How `serve` runs: `signal`/`timeout` bound the opening only; the protocol is served until `close()`. */
export interface ServeOptions extends CallOptions {
  /**
   * Problems that do not end the serving, e.g. Kubo lost the tunnel and it is being reopened
   * (a `ListenerTunnelLostError` of @tk/rpc); without it they go unreported.
   */
  onError?: (error: Error) => void
}

/** A protocol being served; `close()` stops accepting new streams (open ones go on). */
export interface StreamServer extends AsyncDisposable {
  /** The protocol, `/x/<name>`. */
  readonly protocol: string
  close(): Promise<void>
}

/**
 * Where @tk/transmission gets its byte streams: serve `/x/<name>` and receive each incoming
 * stream with its authenticated remote peer, or open a stream to a peer on `/x/<name>`. A Kubo
 * node implements it with its tunnels (stream mounting), an embedded node with libp2p streams.
 */
export interface StreamSource {
  /** This node's peer id. */
  peerId(options?: CallOptions): Promise<string>
  /** Serves `protocol` (`/x/<name>`): `handler` gets each incoming stream. Rejects if it is served already. */
  serve(protocol: string, handler: StreamHandler, options?: ServeOptions): Promise<StreamServer>
  /** Opens a stream to `peerId` on `protocol`; rejects when the peer cannot be reached or does not serve it. */
  open(peerId: string, protocol: string, options?: CallOptions): Promise<PeerStream>
}
