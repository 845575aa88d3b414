import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  NodeClosedError,
  type PeerStream,
  type ServeOptions,
  type StreamHandler,
  type StreamServer,
  type StreamSource
} from '@tk/interface'
import { raceSignal } from 'race-signal'
import type { KuboClient } from './client.js'
import type { P2pForegroundTunnel } from './commands/p2p.js'
import { INTERNAL_CALL_TIMEOUT } from './constants.js'
import { InvalidArgumentError, ListenerTunnelLostError, StreamMountingDisabledError } from './errors.js'
import type { CallOptions } from './options.js'
import { checkProtocol as checkKuboProtocol, checkPeerId } from './validate.js'

/**
 * The longest peer-id line Kubo's `--report-peer-id` writes (a base58 RSA peer id is ~46
 * characters, an inlined key ~60) with room to spare; a connection whose first bytes are longer
 * without a newline is not from Kubo's listener and is dropped.
 */
const MAX_PEER_ID_LINE = 256
/**
 * How long a connection to a served port may take to give its peer-id line (ms). Kubo writes it
 * at once; anything slower is not Kubo's listener (another local process found the port), and
 * must not hold a socket for ever.
 */
export const PEER_ID_LINE_TIMEOUT = 10_000
/** How long `close()` waits for the socket to end before destroying it, unless `timeout` says (ms). */
const CLOSE_TIMEOUT = 5_000
/** How long an unused forward tunnel is kept for the next stream to the same peer and protocol (ms). */
export const FORWARD_IDLE_MS = 2_000
/**
 * How long opening a forward tunnel may take (ms): Kubo registers a forward and answers at once
 * (it dials the peer only per connection), so a slower opening means the daemon is stuck, and
 * every caller to that peer waits on this one opening. The deadline of the client's other
 * bookkeeping calls.
 */
export const FORWARD_OPEN_TIMEOUT = INTERNAL_CALL_TIMEOUT
/** How long opening a served protocol's tunnel may take unless `timeout` says (ms). */
const SERVE_TIMEOUT = 30_000
/** First wait before reopening a lost listener tunnel (ms): Kubo restarting takes about a second. */
export const REOPEN_MIN_DELAY = 250
/** Longest wait between attempts to reopen a lost listener tunnel (ms): a daemon down for long is retried this often. */
export const REOPEN_MAX_DELAY = 10_000

export interface KuboStreamSourceInit {
  /** How long a connection may take to give Kubo's peer-id line (ms); default 10 000. */
  peerIdLineTimeout?: number
  /** How long an unused forward tunnel is kept (ms); default 2 000. */
  forwardIdle?: number
  /**
   * How long opening a forward tunnel may take (ms); default 10 000. Every caller waiting on it
   * then gets an `RpcTimeoutError`, and the next call opens a new one.
   */
  forwardOpenTimeout?: number
}

/** A {@link StreamSource} on a Kubo daemon; `close()` ends what it holds (tunnels, servers, streams). */
export interface KuboStreamSource extends StreamSource, AsyncDisposable {
  close(): Promise<void>
}

/**
 * Byte streams on `/x/<name>` through Kubo's stream mounting. `serve` is a local TCP server behind
 * `p2p listen --foreground --report-peer-id` (Kubo writes the authenticated remote peer id first
 * on each connection), reopened by itself when Kubo loses it. `open` connects through a
 * `p2p forward --foreground` shared by the streams to the same peer and protocol (each TCP
 * connection to it is a libp2p stream of its own), on a port chosen exactly (never another
 * forward's), closed after {@link FORWARD_IDLE_MS} unused.
 */
export function createKuboStreamSource(
  client: KuboClient,
  init: KuboStreamSourceInit = {}
): KuboStreamSource {
  const peerIdLineTimeout = init.peerIdLineTimeout ?? PEER_ID_LINE_TIMEOUT
  const forwardIdle = init.forwardIdle ?? FORWARD_IDLE_MS
  const servers = new Map<string, StreamServer>()
  const streams = new Set<PeerStream>()
  const forwards = new ForwardPool(client, forwardIdle, init.forwardOpenTimeout ?? FORWARD_OPEN_TIMEOUT)
  let ownId: Promise<string> | undefined
  let closed = false

  const track = (stream: PeerStream, socket: net.Socket): PeerStream => {
    streams.add(stream)
    socket.once('close', () => streams.delete(stream))
    return stream
  }

  const close = async (): Promise<void> => {
    closed = true
    for (const stream of streams) stream.abort(new Error('the stream source was closed'))
    await Promise.allSettled([...servers.values()].map(server => server.close()))
    await forwards.close()
  }

  return {
    peerId: async (options: CallOptions = {}): Promise<string> => {
      if (closed) throw new NodeClosedError('streams.peerId')
      // Asked once; a failed lookup is not kept, so the next call asks again.
      ownId ??= client.id({ timeout: options.timeout }).then(info => info.id)
      ownId.catch(() => {
        ownId = undefined
      })
      return await raceSignal(ownId, signalOf(options))
    },

    serve: async (
      protocol: string,
      handler: StreamHandler,
      options: ServeOptions = {}
    ): Promise<StreamServer> => {
      checkProtocol(protocol)
      if (closed) throw new NodeClosedError('streams.serve')
      if (servers.has(protocol)) {
        throw new InvalidArgumentError('protocol', `${protocol} is served already; close its server first`)
      }
      const waiting = new Set<net.Socket>()
      const server = net.createServer(socket => {
        socket.on('error', () => {
          // Reported to the reader through iteration or write; never an uncaught 'error' event.
        })
        // Until its peer-id line is in, a connection belongs to the server (closed with it).
        waiting.add(socket)
        readPeerIdLine(socket, peerIdLineTimeout)
          .finally(() => waiting.delete(socket))
          .then(({ remotePeerId, rest }) => {
            const stream = track(socketStream(socket, remotePeerId, rest), socket)
            return Promise.resolve()
              .then(() => handler(stream))
              .catch((error: unknown) => {
                // The handler owns the stream; one that fails leaves it to us to end, so the peer is not left waiting.
                stream.abort(error instanceof Error ? error : new Error(String(error)))
              })
          })
          .catch(() => socket.destroy())
      })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => {
          server.off('error', reject)
          resolve()
        })
      })
      const port = (server.address() as net.AddressInfo).port
      const lifetime = new AbortController()
      // `timeout` bounds only the opening: the foreground request then lives until `close()`.
      const listen = async (openOptions: CallOptions): Promise<P2pForegroundTunnel> =>
        await client.p2p.listen(protocol, `/ip4/127.0.0.1/tcp/${port}`, {
          foreground: true,
          reportPeerId: true,
          signal:
            openOptions.signal == null
              ? lifetime.signal
              : AbortSignal.any([lifetime.signal, openOptions.signal]),
          timeout: openOptions.timeout ?? SERVE_TIMEOUT
        })
      let current: P2pForegroundTunnel | undefined
      try {
        current = await listen(options)
      } catch (error) {
        server.close()
        throw explainDisabled(error)
      }
      // Kept open: when Kubo drops the tunnel (a daemon restart, `ipfs p2p close`, the HTTP
      // connection breaking), `onError` is told once and the same `p2p listen` is tried again with
      // backoff until closed. Only the first opening can fail `serve`.
      const keepOpen = async (): Promise<void> => {
        for (;;) {
          await current?.closed
          current = undefined
          if (lifetime.signal.aborted) return
          try {
            options.onError?.(new ListenerTunnelLostError(protocol))
          } catch {
            // A failing reporter must not stop the reopening.
          }
          let delay = REOPEN_MIN_DELAY
          while (current == null) {
            try {
              await sleep(delay, undefined, { signal: lifetime.signal })
            } catch {
              return // closed
            }
            try {
              current = await listen({})
            } catch {
              // Kubo is still away (or still has a stale listener of this name): later again.
              delay = Math.min(delay * 2, REOPEN_MAX_DELAY)
            }
          }
          if (lifetime.signal.aborted) await current.close()
        }
      }
      const kept = keepOpen()
      let closing: Promise<void> | undefined
      const closeServer = async (): Promise<void> => {
        closing ??= (async () => {
          if (servers.get(protocol) === handle) servers.delete(protocol)
          lifetime.abort()
          try {
            await current?.close()
            await kept
          } finally {
            // Open streams go on (as on an embedded node): stop accepting, without waiting for
            // them to end (server.close's callback would); drop connections not yet handed out.
            server.close()
            for (const socket of waiting) socket.destroy()
          }
        })()
        await closing
      }
      const handle: StreamServer = { protocol, close: closeServer, [Symbol.asyncDispose]: closeServer }
      servers.set(protocol, handle)
      return handle
    },

    open: async (remotePeerId: string, protocol: string, options: CallOptions = {}): Promise<PeerStream> => {
      checkProtocol(protocol)
      checkPeerId(remotePeerId, 'peerId')
      if (closed) throw new NodeClosedError('streams.open')
      const signal = signalOf(options) ?? new AbortController().signal
      const socket = await forwards.connect(remotePeerId, protocol, signal)
      return track(socketStream(socket, remotePeerId, undefined), socket)
    },

    close,
    [Symbol.asyncDispose]: close
  }
}

/** Kubo's refusal when `Experimental.Libp2pStreamMounting` is off, as the error that says how to fix it. */
function explainDisabled(error: unknown): unknown {
  return error instanceof Error && /stream mounting not enabled/i.test(error.message)
    ? new StreamMountingDisabledError({ cause: error })
    : error
}

interface Forward {
  tunnel: Promise<P2pForegroundTunnel>
  users: number
  idle: NodeJS.Timeout | undefined
}

/**
 * Forward tunnels shared by the streams to the same peer and protocol: a burst of streams pays for
 * `p2p forward` once. The port is chosen by @tk/rpc's `p2p.forward` exactly (never a guess from
 * `p2p ls`), so a connection always reaches the peer it was opened for.
 */
class ForwardPool {
  readonly #client: KuboClient
  readonly #idleMs: number
  readonly #openTimeout: number
  readonly #forwards = new Map<string, Forward>()
  /** Aborts the openings under way when the pool closes, so `close()` does not wait for them. */
  readonly #closing = new AbortController()

  constructor(client: KuboClient, idleMs: number, openTimeout: number) {
    this.#client = client
    this.#idleMs = idleMs
    this.#openTimeout = openTimeout
  }

  async connect(peerId: string, protocol: string, signal: AbortSignal): Promise<net.Socket> {
    const key = `${protocol} ${peerId}`
    let forward = this.#forwards.get(key)
    if (forward == null) {
      // Not tied to this caller's signal: the tunnel outlives the call for the next ones. Its
      // opening has a deadline of its own, since every caller to this peer waits on it: when
      // Kubo does not answer, the request is aborted (and the tunnel removed), each waiting
      // caller gets the timeout error, and the next call opens afresh.
      const opened = this.#client.p2p.forward(protocol, '/ip4/127.0.0.1/tcp/0', `/p2p/${peerId}`, {
        foreground: true,
        signal: this.#closing.signal,
        timeout: this.#openTimeout
      })
      forward = { tunnel: opened, users: 0, idle: undefined }
      this.#forwards.set(key, forward)
      const entry = forward
      // A tunnel that fails or ends is forgotten, so the next call opens a new one.
      opened.then(
        tunnel => {
          void tunnel.closed.then(() => {
            if (this.#forwards.get(key) === entry) this.#forwards.delete(key)
          })
        },
        () => {
          if (this.#forwards.get(key) === entry) this.#forwards.delete(key)
        }
      )
    }
    forward.users++
    clearTimeout(forward.idle)
    forward.idle = undefined
    let socket: net.Socket
    try {
      const tunnel = await raceSignal(forward.tunnel, signal).catch((error: unknown) => {
        throw explainDisabled(error)
      })
      const port = Number(/\/tcp\/(\d+)/.exec(tunnel.listenAddress)?.[1])
      socket = await dial(port, signal)
    } catch (error) {
      this.#release(key, forward)
      throw error
    }
    const entry = forward
    socket.once('close', () => this.#release(key, entry))
    return socket
  }

  async close(): Promise<void> {
    this.#closing.abort()
    const forwards = [...this.#forwards.values()]
    this.#forwards.clear()
    await Promise.all(
      forwards.map(async forward => {
        clearTimeout(forward.idle)
        const tunnel = await forward.tunnel.catch(() => undefined)
        await tunnel?.close()
      })
    )
  }

  #release(key: string, forward: Forward): void {
    forward.users--
    if (forward.users > 0) return
    forward.idle = setTimeout(() => {
      if (forward.users > 0) return
      if (this.#forwards.get(key) === forward) this.#forwards.delete(key)
      void forward.tunnel.then(tunnel => tunnel.close()).catch(() => {})
    }, this.#idleMs)
    forward.idle.unref()
  }
}

/**
 * `/x/<name>`: what Kubo's stream mounting takes without `allow-custom-protocol`. Kubo's own rule,
 * not a stricter one: the Python IPFS-Toolkit names tunnels after files (`/x/report 2026.bin_conv`).
 */
function checkProtocol(protocol: string): void {
  checkKuboProtocol(protocol, false)
  if (protocol.length <= '/x/'.length)
    throw new InvalidArgumentError('protocol', `expected /x/<name>, got ${JSON.stringify(protocol)}`)
}

function signalOf(options: CallOptions): AbortSignal | undefined {
  const signals = [options.signal, options.timeout == null ? undefined : AbortSignal.timeout(options.timeout)]
  const present = signals.filter(signal => signal != null)
  if (present.length === 0) return undefined
  return present.length === 1 ? present[0] : AbortSignal.any(present)
}

async function dial(port: number, signal: AbortSignal): Promise<net.Socket> {
  signal.throwIfAborted()
  // Not `net.connect({ signal })`: Node keeps that listener until the signal aborts, and a call's
  // signal may never abort, so every connection would stay reachable from it (a leak per call).
  return await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    const onAbort = (): void => {
      socket.destroy()
      reject(signal.reason)
    }
    const settle = (): void => {
      signal.removeEventListener('abort', onAbort)
      socket.off('error', onError)
    }
    const onError = (error: Error): void => {
      settle()
      reject(error)
    }
    socket.once('connect', () => {
      settle()
      socket.on('error', () => {
        // Reported to the reader through iteration or write.
      })
      resolve(socket)
    })
    socket.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Reads Kubo's `<peer id>\n` line off a listener connection; what follows it is returned as `rest`. */
async function readPeerIdLine(
  socket: net.Socket,
  timeout: number
): Promise<{ remotePeerId: string; rest: Buffer | undefined }> {
  return await new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`no peer id line from Kubo within ${timeout} ms`))
    }, timeout)
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
    }
    const onClose = (): void => {
      cleanup()
      reject(new Error('the connection closed before Kubo reported the peer id'))
    }
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const newline = buffered.indexOf(0x0a)
      if (newline === -1) {
        if (buffered.length > MAX_PEER_ID_LINE) {
          cleanup()
          reject(new Error('no peer id line from Kubo'))
        }
        return
      }
      cleanup()
      socket.pause()
      const remotePeerId = buffered.subarray(0, newline).toString('utf8').trim()
      const rest = buffered.subarray(newline + 1)
      try {
        checkPeerId(remotePeerId, 'peerId')
      } catch (error) {
        reject(error)
        return
      }
      resolve({ remotePeerId, rest: rest.length === 0 ? undefined : rest })
    }
    socket.on('data', onData)
    socket.on('close', onClose)
  })
}

/**
 * A TCP connection (through a Kubo tunnel) as a {@link PeerStream}; `first` are bytes already read
 * off it. Kubo has no half-close: ending our writing tears down both directions, so `closeWrite`
 * ends the whole stream. Exported for code that runs its own `p2p listen` (e.g. the Python
 * IPFS-Toolkit's one-off tunnels); `remotePeerId` is then what that code knows of the peer.
 */
export function socketStream(socket: net.Socket, remotePeerId: string, first?: Uint8Array): PeerStream {
  let pending = first
  let closing: Promise<void> | undefined
  socket.setNoDelay(true)
  socket.on('error', () => {
    // Reported to the reader through iteration or write; never an uncaught 'error' event.
  })
  const close = async (options: CallOptions = {}): Promise<void> => {
    closing ??= new Promise<void>(resolve => {
      if (socket.destroyed) {
        resolve()
        return
      }
      const timer = setTimeout(() => socket.destroy(), options.timeout ?? CLOSE_TIMEOUT)
      timer.unref()
      socket.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.end()
    })
    await closing
  }
  return {
    remotePeerId,
    async *[Symbol.asyncIterator]() {
      if (pending != null && pending.byteLength > 0) {
        const bytes = pending
        pending = undefined
        yield bytes
      }
      if (socket.destroyed) return
      // Leaving a loop early only stops reading (the stream stays open for writing and later reads).
      try {
        for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
          const bytes = chunk as Buffer
          yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
        }
      } catch (error) {
        // Our own close ending the read is an end, not a failure.
        if (closing == null) throw error
      }
    },
    write: async (data: Uint8Array, options: CallOptions = {}): Promise<void> => {
      if (socket.destroyed || socket.writableEnded) throw new Error('the stream is closed')
      if (socket.write(data)) return
      const signal = signalOf(options)
      await new Promise<void>((resolve, reject) => {
        const done = (error?: unknown): void => {
          socket.off('drain', onDrain)
          socket.off('close', onClose)
          signal?.removeEventListener('abort', onAbort)
          if (error === undefined) resolve()
          else reject(error)
        }
        const onDrain = (): void => done()
        const onClose = (): void => done(new Error('the stream closed before the data could be written'))
        const onAbort = (): void => done(signal?.reason)
        socket.once('drain', onDrain)
        socket.once('close', onClose)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    },
    closeWrite: close,
    close,
    abort: () => {
      if (socket.destroyed) return
      // A reset, so the other side sees an error rather than a clean end. Not once our end was
      // shut down (by us, or by Node after the peer's end): libuv refuses to reset a socket whose
      // shutdown is under way, and Node then never finishes closing it, so the process hangs for
      // ever when it exits. The peer has ended or been told we end; a plain close says enough.
      if (socket.writableEnded) socket.destroy()
      else socket.resetAndDestroy()
    },
    [Symbol.asyncDispose]: async () => await close()
  }
}
