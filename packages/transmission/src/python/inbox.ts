import { randomBytes } from 'node:crypto'
import type { Server, Socket } from 'node:net'
import type { P2pForegroundTunnel } from '@tk/rpc'
import { socketStream } from '@tk/rpc/streams'
import { DEFAULT_MAX_INBOX_BYTES } from '../conversation.js'
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
  /**
   * Bytes of messages held for the reader beyond which new ones wait before `Finished!` (so the
   * Python sender waits), as a conversation's `maxInboxBytes`; default 8 MiB. One more message is
   * always taken below it, so a message larger than this still gets through an empty inbox.
   */
  maxBytes?: number
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
  /** Bytes in `#messages`. */
  #bytes = 0
  /** Messages (and their bytes) let through to `Finished!` but not yet in `#messages`. */
  #taking = { count: 0, bytes: 0 }
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
        this.#bytes -= message.byteLength
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
    const maxBytes = init.maxBytes ?? DEFAULT_MAX_INBOX_BYTES
    /** Bytes of this connection's message among `#taking`, once it was let through. */
    let taking: number | undefined
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
        beforeFinished: async message => {
          // Hold `Finished!` while the reader is this far behind, by count and by bytes: the
          // Python sender waits for it. Messages let through count at once (several connections
          // may be waiting here), so the bounds hold however many wake together.
          while (
            this.#closed == null &&
            (this.#messages.length + this.#taking.count >= INBOX_LIMIT ||
              this.#bytes + this.#taking.bytes >= maxBytes)
          ) {
            await this.#changed(init.idleTimeout, signal)
          }
          taking = message.byteLength
          this.#taking.count++
          this.#taking.bytes += taking
        }
      })
      if (this.#closed != null) return
      this.#messages.push(data)
      this.#bytes += data.byteLength
    } catch (error) {
      if (this.#closed == null) init.onError?.(error instanceof Error ? error : new Error(String(error)))
    } finally {
      if (taking != null) {
        this.#taking.count--
        this.#taking.bytes -= taking
      }
      this.#wake()
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
