import { randomBytes } from 'node:crypto'
import type { Server, Socket } from 'node:net'
import type { P2pForegroundTunnel } from '@tk/rpc'
import { socketStream } from '@tk/rpc/streams'
import { StreamClosedError, TransmissionError } from '../errors.js'
import { FrameStream } from '../frame-stream.js'
import type { Transform } from '../options.js'
import { answerPythonRequest } from './exchange.js'
import type { PythonNode } from './node.js'
import { closeServer, listenLocally, OPEN_TIMEOUT, reportedPeer } from './tunnels.js'

/** Connections a Python-style inbox serves at once; its peer sends one message at a time. */
const INBOX_CONCURRENCY = 4
/** Messages an inbox holds for its reader; beyond this, new ones wait before `Finished!`. */
const INBOX_LIMIT = 16

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
  static async open(client: PythonNode, name: string, init: PythonInboxInit): Promise<PythonInbox> {
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

  async #serve(client: PythonNode, socket: Socket, init: PythonInboxInit): Promise<void> {
    const stream = new FrameStream(socketStream(socket, ''), {
      maxFrame: 1024 * 1024,
      idleTimeout: init.idleTimeout
    })
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
