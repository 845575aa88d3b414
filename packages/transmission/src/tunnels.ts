import net, { type Server, type Socket } from 'node:net'
import { StreamMountingDisabledError } from '@tk/api'
import type { KuboClient, P2pForegroundTunnel } from '@tk/rpc'

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

/** A local TCP server plus `p2p listen --report-peer-id --foreground` pointing at it. */
export interface ListenerTunnel {
  readonly protocol: string
  close(): Promise<void>
}

export async function openListenerTunnel(
  client: KuboClient,
  protocol: string,
  onConnection: (socket: Socket) => void,
  /** Ends the tunnel when aborted. */
  lifetime: AbortSignal,
  /** How long opening may take (ms). */
  openTimeout: number
): Promise<ListenerTunnel> {
  const sockets = new Set<Socket>()
  const server: Server = net.createServer(socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    onConnection(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as net.AddressInfo).port
  let tunnel: P2pForegroundTunnel
  const opening = AbortSignal.timeout(openTimeout)
  const request = new AbortController()
  const abortRequest = (): void => request.abort(lifetime.reason ?? opening.reason)
  lifetime.addEventListener('abort', abortRequest, { once: true })
  opening.addEventListener('abort', abortRequest, { once: true })
  try {
    tunnel = await client.p2p.listen(protocol, `/ip4/127.0.0.1/tcp/${port}`, {
      foreground: true,
      reportPeerId: true,
      signal: request.signal
    })
  } catch (error) {
    lifetime.removeEventListener('abort', abortRequest)
    server.close()
    throw explainDisabled(error)
  } finally {
    opening.removeEventListener('abort', abortRequest)
  }
  let closing: Promise<void> | undefined
  return {
    protocol,
    close: async () => {
      closing ??= (async () => {
        await tunnel.close()
        for (const socket of sockets) socket.destroy()
        await new Promise<void>(resolve => server.close(() => resolve()))
      })()
      await closing
    }
  }
}
