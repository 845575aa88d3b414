import net from 'node:net'
import type { PeerStream, StreamHandler, StreamServer, StreamSource } from '@tk/interface'
import { InvalidArgumentError } from '@tk/rpc'
import { checkPeerId } from '@tk/rpc/validate'
import type { CallOptions } from './options.js'
import type { createTunnelFunctions } from './tunnels.js'

/** Only `/x/<name>`: what Kubo's stream mounting takes without `allow-custom-protocol`, as the embedded mode does. */
const PROTOCOL = /^\/x\/[^/\s]+$/
/**
 * The longest peer-id line Kubo's `--report-peer-id` writes (a base58 RSA peer id is ~46
 * characters, an inlined key ~ 60) with room to spare; a connection whose first bytes are longer
 * without a newline is not from Kubo's listener and is dropped.
 */
const MAX_PEER_ID_LINE = 256
/**
 * How long a connection to a served port may take to give its peer-id line (ms). Kubo writes it
 * at once; anything slower is not Kubo's listener (another local process found the port), and
 * must not hold a socket for ever.
 */
const PEER_ID_LINE_TIMEOUT = 10_000
/** How long `close()` waits for the socket to end before destroying it, unless `timeout` says (ms). */
const CLOSE_TIMEOUT = 5_000

type TunnelFunctions = ReturnType<typeof createTunnelFunctions>

/** What the streams hold open; `closeAll` ends it when the `ipfs` instance closes. */
export interface KuboStreams extends StreamSource {
  closeAll(): Promise<void>
}

/**
 * Byte streams on `/x/<name>` through Kubo's stream mounting: `serve` is a local TCP server behind
 * `p2p listen --report-peer-id` (Kubo writes the authenticated remote peer id first on each
 * connection), `open` a `p2p forward` on a fresh local port, closed with the stream.
 */
export function createKuboStreams(
  tunnels: TunnelFunctions,
  peerId: (options?: CallOptions) => Promise<string>,
  /** Tests shorten the peer-id line deadline. */
  limits: { peerIdLineTimeout?: number } = {}
): KuboStreams {
  const peerIdLineTimeout = limits.peerIdLineTimeout ?? PEER_ID_LINE_TIMEOUT
  const servers = new Set<StreamServer>()
  const streams = new Set<PeerStream>()

  const track = (stream: PeerStream, socket: net.Socket): PeerStream => {
    streams.add(stream)
    socket.once('close', () => streams.delete(stream))
    return stream
  }

  return {
    peerId,

    serve: async (
      protocol: string,
      handler: StreamHandler,
      options: CallOptions = {}
    ): Promise<StreamServer> => {
      checkProtocol(protocol)
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
            const stream = track(wrapSocket(socket, remotePeerId, rest), socket)
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
      try {
        await tunnels.openListener(protocol, port, { ...options, reportPeerId: true })
      } catch (error) {
        server.close()
        throw error
      }
      let closing: Promise<void> | undefined
      const close = async (): Promise<void> => {
        closing ??= (async () => {
          servers.delete(handle)
          try {
            await tunnels.closeListener(protocol, { port })
          } finally {
            // Open streams go on (as on an embedded node): stop accepting, without waiting for
            // them to end (server.close's callback would); drop connections not yet handed out.
            server.close()
            for (const socket of waiting) socket.destroy()
          }
        })()
        await closing
      }
      const handle: StreamServer = { protocol, close, [Symbol.asyncDispose]: close }
      servers.add(handle)
      return handle
    },

    open: async (remotePeerId: string, protocol: string, options: CallOptions = {}): Promise<PeerStream> => {
      checkProtocol(protocol)
      checkPeerId(remotePeerId, 'peerId')
      const sender = await tunnels.openSender(protocol, 0, remotePeerId, options)
      const closeSender = async (): Promise<void> => {
        await tunnels.closeSender(protocol, { port: sender.port, peerId: remotePeerId }).catch(() => 0)
      }
      let socket: net.Socket
      try {
        socket = await connect(sender.port, options)
      } catch (error) {
        await closeSender()
        throw error
      }
      // The forward is this stream's alone: it goes when the stream does.
      socket.once('close', () => void closeSender())
      return track(wrapSocket(socket, remotePeerId, undefined), socket)
    },

    closeAll: async (): Promise<void> => {
      for (const stream of streams) stream.abort(new Error('the ipfs instance was closed'))
      await Promise.allSettled([...servers].map(server => server.close()))
    }
  }
}

function checkProtocol(protocol: string): void {
  if (typeof protocol !== 'string' || !PROTOCOL.test(protocol))
    throw new InvalidArgumentError('protocol', `expected /x/<name>, got ${JSON.stringify(protocol)}`)
}

function signalOf(options: CallOptions): AbortSignal | undefined {
  const signals = [options.signal, options.timeout == null ? undefined : AbortSignal.timeout(options.timeout)]
  const present = signals.filter(signal => signal != null)
  return present.length === 0 ? undefined : AbortSignal.any(present)
}

async function connect(port: number, options: CallOptions): Promise<net.Socket> {
  const signal = signalOf(options)
  signal?.throwIfAborted()
  return await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    const onAbort = (): void => {
      socket.destroy()
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('error', error => {
      signal?.removeEventListener('abort', onAbort)
      reject(error)
    })
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort)
      socket.removeAllListeners('error')
      socket.on('error', () => {
        // Reported to the reader through iteration or write.
      })
      resolve(socket)
    })
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
 * A TCP connection through a Kubo tunnel as a {@link PeerStream}. Kubo has no half-close: ending
 * our writing tears down both directions, so `closeWrite` ends the whole stream.
 */
function wrapSocket(socket: net.Socket, remotePeerId: string, first: Buffer | undefined): PeerStream {
  let pending = first
  let closing: Promise<void> | undefined
  const close = async (options: CallOptions = {}): Promise<void> => {
    closing ??= new Promise<void>(resolve => {
      if (socket.destroyed) {
        resolve()
        return
      }
      const timer = setTimeout(() => socket.destroy(), options.timeout ?? CLOSE_TIMEOUT)
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
      if (pending != null) {
        const bytes = pending
        pending = undefined
        yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
      }
      // Leaving a loop early only stops reading (the stream stays open for writing and later reads).
      for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
        const bytes = chunk as Buffer
        yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
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
    abort: (error?: Error) => {
      void error
      // A reset, so the other side sees an error rather than a clean end.
      socket.resetAndDestroy()
    },
    [Symbol.asyncDispose]: async () => await close()
  }
}
