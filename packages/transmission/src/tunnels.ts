import net, { type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { StreamMountingDisabledError } from '@tk/api'
import type { KuboClient, P2pForegroundTunnel } from '@tk/rpc'
import { ListenerTunnelLostError } from './errors.js'

/** Kubo's refusal when `Experimental.Libp2pStreamMounting` is off; the error we throw says how to fix it. */
function explainDisabled(error: unknown): unknown {
  return error instanceof Error && /stream mounting not enabled/i.test(error.message)
    ? new StreamMountingDisabledError({ cause: error })
    : error
}

/** How long an unused forward tunnel is kept for the next transmission to the same peer (ms). */
export const FORWARD_IDLE_MS = 2_000

interface Forward {
  tunnel: Promise<P2pForegroundTunnel>
  users: number
  idle: NodeJS.Timeout | undefined
}

/**
 * Forward tunnels (`p2p forward --foreground`) shared by transmissions to the same peer and
 * protocol: each TCP connection to a forward's port is its own libp2p stream, so one tunnel serves
 * any number of transmissions, and a burst of them pays for `p2p forward` once. A tunnel unused
 * for {@link FORWARD_IDLE_MS} is closed; Kubo also drops it when our process ends.
 */
export class ForwardPool {
  readonly #client: KuboClient
  readonly #forwards = new Map<string, Forward>()

  constructor(client: KuboClient) {
    this.#client = client
  }

  /** A TCP connection that Kubo carries to `protocol` on `peerId`. */
  async connect(peerId: string, protocol: string, signal: AbortSignal): Promise<Socket> {
    const key = `${protocol} ${peerId}`
    let forward = this.#forwards.get(key)
    if (forward == null) {
      // Not tied to this caller's signal: the tunnel outlives the call for the next ones.
      const opened = this.#client.p2p.forward(protocol, '/ip4/127.0.0.1/tcp/0', `/p2p/${peerId}`, {
        foreground: true
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
    let socket: Socket
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

  /** Closes every tunnel now. */
  async close(): Promise<void> {
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
    }, FORWARD_IDLE_MS)
    forward.idle.unref()
  }
}

async function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

async function dial(port: number, signal: AbortSignal): Promise<Socket> {
  signal.throwIfAborted()
  // Not `net.connect({ signal })`: Node keeps that listener until the signal aborts, and a call's
  // signal may never abort, so every connection would stay reachable from it (a leak per call).
  return await new Promise<Socket>((resolve, reject) => {
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
      resolve(socket)
    })
    socket.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

const pools = new WeakMap<KuboClient, ForwardPool>()

/** One pool per client, so that separate calls share tunnels. */
export function forwardPoolFor(client: KuboClient): ForwardPool {
  let pool = pools.get(client)
  if (pool == null) {
    pool = new ForwardPool(client)
    pools.set(client, pool)
  }
  return pool
}

/** First wait before reopening a lost listener tunnel (ms): Kubo restarting takes about a second. */
export const REOPEN_MIN_DELAY = 250
/** Longest wait between attempts to reopen a lost listener tunnel (ms): a daemon down for long is retried this often. */
export const REOPEN_MAX_DELAY = 10_000

/** A local TCP server plus `p2p listen --report-peer-id --foreground` pointing at it. */
export interface ListenerTunnel {
  readonly protocol: string
  /** The local TCP port Kubo's tunnel points at. */
  readonly port: number
  close(): Promise<void>
}

export interface ListenerTunnelInit {
  onConnection: (socket: Socket) => void
  /** Ends the tunnel when aborted. */
  lifetime: AbortSignal
  /** How long opening (and each reopening) may take (ms). */
  openTimeout: number
  /** Kubo lost the tunnel; it is being reopened. Called once per loss. */
  onLost: (error: Error) => void
}

/**
 * Opens the tunnel and keeps it open: when Kubo drops it (a daemon restart, `ipfs p2p close`, the
 * HTTP connection breaking), `onLost` is told and the same `p2p listen` is tried again, with
 * backoff from {@link REOPEN_MIN_DELAY} to {@link REOPEN_MAX_DELAY}, until `lifetime` aborts.
 * Only the first opening can fail the call.
 */
export async function openListenerTunnel(
  client: KuboClient,
  protocol: string,
  init: ListenerTunnelInit
): Promise<ListenerTunnel> {
  const { lifetime, openTimeout } = init
  const sockets = new Set<Socket>()
  const server: Server = net.createServer(socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    init.onConnection(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as net.AddressInfo).port
  // `timeout` bounds only the opening: the foreground request then lives until `lifetime` aborts.
  const listen = async (): Promise<P2pForegroundTunnel> =>
    await client.p2p.listen(protocol, `/ip4/127.0.0.1/tcp/${port}`, {
      foreground: true,
      reportPeerId: true,
      signal: lifetime,
      timeout: openTimeout
    })
  let tunnel: P2pForegroundTunnel
  try {
    tunnel = await listen()
  } catch (error) {
    server.close()
    throw explainDisabled(lifetime.aborted ? (lifetime.reason ?? error) : error)
  }
  let current: P2pForegroundTunnel | undefined = tunnel
  const keepOpen = async (): Promise<void> => {
    for (;;) {
      await current?.closed
      current = undefined
      if (lifetime.aborted) return
      init.onLost(new ListenerTunnelLostError(protocol))
      let delay = REOPEN_MIN_DELAY
      while (current == null) {
        try {
          await sleep(delay, undefined, { signal: lifetime })
        } catch {
          return // the listener closed
        }
        try {
          current = await listen()
        } catch {
          // Kubo is still away (or still has a stale listener of this name): try again later;
          // the loss was reported once already.
          delay = Math.min(delay * 2, REOPEN_MAX_DELAY)
        }
      }
      if (lifetime.aborted) await current.close()
    }
  }
  const kept = keepOpen()
  let closing: Promise<void> | undefined
  return {
    protocol,
    port,
    close: async () => {
      closing ??= (async () => {
        // The caller aborts `lifetime` first; a reopening in flight then ends with it.
        await current?.close()
        await kept
        for (const socket of sockets) socket.destroy()
        await new Promise<void>(resolve => server.close(() => resolve()))
      })()
      await closing
    }
  }
}
