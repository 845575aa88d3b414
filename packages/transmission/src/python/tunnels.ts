import { randomBytes } from 'node:crypto'
import net, { type Server, type Socket } from 'node:net'
import type { KuboClient, P2pForegroundTunnel } from '@tk/rpc'
import { checkPeerId } from '@tk/rpc/validate'
import { StreamClosedError, TransmissionError } from '../errors.js'
import { FrameStream } from '../frame-stream.js'
import type { Transform } from '../options.js'
import { answerPythonRequest } from './exchange.js'

/** Connections a Python-style inbox serves at once; its peer sends one message at a time. */
const INBOX_CONCURRENCY = 4
/** Messages an inbox holds for its reader; beyond this, new ones wait before `Finished!`. */
const INBOX_LIMIT = 16
/** How long opening a tunnel may take (ms). */
const OPEN_TIMEOUT = 30_000

async function listenLocally(
  onConnection: (socket: Socket) => void
): Promise<{ server: Server; port: number }> {
  const server = net.createServer(onConnection)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, port: (server.address() as net.AddressInfo).port }
}

async function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy()
  await new Promise<void>(resolve => server.close(() => resolve()))
}

/** Reads Kubo's `--report-peer-id` line; undefined when it is missing or not a peer id. */
async function reportedPeer(stream: FrameStream, signal: AbortSignal): Promise<string | undefined> {
  try {
    const peerId = (await stream.readLine(128, signal)).trim()
    checkPeerId(peerId)
    return peerId
  } catch {
    return undefined
  }
}

/** The one-off tunnel a Python transmission's data comes through, named after its TCP port. */
export interface DataTunnel {
  readonly name: string
  /** The first connection from the expected peer, past Kubo's peer-id line; rejects after `timeout` ms. */
  accept(timeout: number): Promise<FrameStream>
  close(): Promise<void>
}

/**
 * Opens `/x/<port>` (as the Python listener does: the port is unique on this machine while we hold
 * it, so no Python peer on the same node can claim the name) with `--report-peer-id`, and hands
 * out the first connection that comes from `peerId`; others are closed unread.
 */
export async function openDataTunnel(
  client: KuboClient,
  peerId: string,
  idleTimeout: number,
  signal: AbortSignal
): Promise<DataTunnel> {
  const sockets = new Set<Socket>()
  let deliver: (stream: FrameStream) => void = () => {}
  const delivered = new Promise<FrameStream>(resolve => {
    deliver = resolve
  })
  let taken = false
  const { server, port } = await listenLocally(socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    if (taken) {
      socket.destroy()
      return
    }
    void (async () => {
      const stream = new FrameStream(socket, { maxFrame: 1024 * 1024, idleTimeout })
      const from = await reportedPeer(stream, signal)
      if (from !== peerId || taken) {
        stream.close()
        return
      }
      taken = true
      stream.peerId = from
      deliver(stream)
    })()
  })
  const name = String(port)
  let tunnel: P2pForegroundTunnel
  try {
    // `signal` is the listener's: the tunnel may live as long as that, and is closed after use.
    tunnel = await client.p2p.listen(`/x/${name}`, `/ip4/127.0.0.1/tcp/${port}`, {
      foreground: true,
      reportPeerId: true,
      signal,
      timeout: OPEN_TIMEOUT
    })
  } catch (error) {
    await closeServer(server, sockets)
    throw error
  }
  let closing: Promise<void> | undefined
  return {
    name,
    accept: async timeout => {
      let timer: NodeJS.Timeout | undefined
      let onAbort: (() => void) | undefined
      try {
        signal.throwIfAborted()
        return await Promise.race([
          delivered,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new TransmissionError(
                    'idle-timeout',
                    `the Python sender did not send its data within ${timeout} ms`,
                    { peerId }
                  )
                ),
              timeout
            )
            // The listener closing ends the wait at once.
            onAbort = () => reject(signal.reason)
            signal.addEventListener('abort', onAbort, { once: true })
          })
        ])
      } finally {
        clearTimeout(timer)
        if (onAbort != null) signal.removeEventListener('abort', onAbort)
      }
    },
    close: async () => {
      closing ??= (async () => {
        await tunnel.close()
        await closeServer(server, sockets)
      })()
      await closing
    }
  }
}

export interface PythonInboxInit {
  /** The only peer served; other peers' connections are closed unread. */
  peerId: string
  /** Largest message (bytes on the wire). */
  maxSize: number
  idleTimeout: number
  /** Applied before `Finished!` (`decrypt`); a throw refuses the message. Settable later. */
  transform?: Transform
  /** A message that failed; the inbox goes on serving. */
  onError?: (error: Error) => void
}

/**
 * A Python-style transmission listener on `/x/<name>` for one peer: what a Python conversation
 * (or file transfer) says to us arrives here, one full transmission per message, and is read with
 * `next()` in arrival order.
 */
export class PythonInbox {
  readonly name: string
  /** Applied to each message before `Finished!`; set once a conversation's handshake is over. */
  transform: Transform | undefined
  readonly #tunnel: P2pForegroundTunnel
  readonly #server: Server
  readonly #sockets: Set<Socket>
  readonly #controller: AbortController
  readonly #messages: Uint8Array[] = []
  #waiters: Array<() => void> = []
  #closed: Error | undefined

  private constructor(
    name: string,
    tunnel: P2pForegroundTunnel,
    server: Server,
    sockets: Set<Socket>,
    controller: AbortController
  ) {
    this.name = name
    this.#tunnel = tunnel
    this.#server = server
    this.#sockets = sockets
    this.#controller = controller
  }

  /**
   * Opens the inbox on `/x/<name>`; rejects when Kubo already has a listener of that name. The
   * tunnel lives until `close()`: only its opening is bounded (`OPEN_TIMEOUT`).
   */
  static async open(client: KuboClient, name: string, init: PythonInboxInit): Promise<PythonInbox> {
    const controller = new AbortController()
    const sockets = new Set<Socket>()
    let inbox: PythonInbox | undefined
    const { server, port } = await listenLocally(socket => {
      if (sockets.size >= INBOX_CONCURRENCY || inbox == null) {
        socket.destroy()
        return
      }
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      void inbox.#serve(client, socket, init)
    })
    let tunnel: P2pForegroundTunnel
    try {
      tunnel = await client.p2p.listen(`/x/${name}`, `/ip4/127.0.0.1/tcp/${port}`, {
        foreground: true,
        reportPeerId: true,
        signal: controller.signal,
        timeout: OPEN_TIMEOUT
      })
    } catch (error) {
      await closeServer(server, sockets)
      throw error
    }
    inbox = new PythonInbox(name, tunnel, server, sockets, controller)
    inbox.transform = init.transform
    return inbox
  }

  /** A name for an inbox that no one else uses: `<prefix>_<random>`, the shape ipfs_tk gives them. */
  static uniqueName(prefix: string): string {
    return `${prefix}_${randomBytes(6).toString('hex')}`
  }

  /** The next message; rejects after `timeout` ms (0: wait without limit), or once the inbox closed. */
  async next(timeout: number, signal?: AbortSignal): Promise<Uint8Array> {
    for (;;) {
      const message = this.#messages.shift()
      if (message != null) {
        this.#wake()
        return message
      }
      if (this.#closed != null) throw this.#closed
      await this.#changed(timeout, signal)
    }
  }

  async close(): Promise<void> {
    if (this.#closed == null) {
      this.#closed = new StreamClosedError('The conversation with the Python peer was closed')
      this.#controller.abort(this.#closed)
      this.#wake()
    }
    await this.#tunnel.close()
    await closeServer(this.#server, this.#sockets)
  }

  async #serve(client: KuboClient, socket: Socket, init: PythonInboxInit): Promise<void> {
    const stream = new FrameStream(socket, { maxFrame: 1024 * 1024, idleTimeout: init.idleTimeout })
    const signal = this.#controller.signal
    try {
      const from = await reportedPeer(stream, signal)
      if (from !== init.peerId) return
      stream.peerId = from
      const data = await answerPythonRequest(stream, from, {
        client,
        maxSize: init.maxSize,
        idleTimeout: init.idleTimeout,
        signal,
        transform: this.transform,
        beforeFinished: async () => {
          // Hold `Finished!` while the reader is this far behind: the Python sender waits for it.
          while (this.#messages.length >= INBOX_LIMIT && this.#closed == null) {
            await this.#changed(init.idleTimeout, signal)
          }
        }
      })
      if (this.#closed != null) return
      this.#messages.push(data)
      this.#wake()
    } catch (error) {
      if (this.#closed == null) init.onError?.(error instanceof Error ? error : new Error(String(error)))
    } finally {
      stream.close()
    }
  }

  async #changed(timeout: number, signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const onAbort = (): void => {
        cleanup()
        reject(signal?.reason)
      }
      const wake = (): void => {
        cleanup()
        resolve()
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#waiters = this.#waiters.filter(waiter => waiter !== wake)
      }
      if (timeout > 0 && Number.isFinite(timeout)) {
        timer = setTimeout(() => {
          cleanup()
          reject(new TransmissionError('idle-timeout', `no message from the Python peer for ${timeout} ms`))
        }, timeout)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(wake)
    })
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

/**
 * Two connected loopback sockets: a Python conversation is presented to `Conversation` as one of
 * our own streams, with a translator on the other end. The server takes one connection, the one
 * whose port matches ours, so no other local process gets in between.
 */
export async function socketPair(): Promise<[Socket, Socket]> {
  let accepted: (socket: Socket) => void = () => {}
  const other = new Promise<Socket>(resolve => {
    accepted = resolve
  })
  let client: Socket | undefined
  const pending: Socket[] = []
  const { server, port } = await listenLocally(socket => {
    if (client != null && socket.remotePort === client.localPort) accepted(socket)
    else pending.push(socket)
  })
  try {
    client = await new Promise<Socket>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port })
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(socket)
      })
      socket.once('error', reject)
    })
    const mine = pending.find(socket => socket.remotePort === client?.localPort)
    if (mine != null) accepted(mine)
    for (const socket of pending) if (socket !== mine) socket.destroy()
    return [client, await other]
  } finally {
    server.close()
  }
}
