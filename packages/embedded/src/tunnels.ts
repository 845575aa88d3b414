import { once } from 'node:events'
import net from 'node:net'
import type { Libp2p, Stream } from '@libp2p/interface'
import {
  type CallOptions,
  type CloseListenerOptions,
  type CloseSenderOptions,
  InvalidArgumentError,
  type OpenListenerOptions,
  type OpenSenderOptions,
  type TunnelList,
  type TunnelListener,
  type TunnelSender,
  type Tunnels
} from '@tk/interface'
import { runCall } from './call.js'
import { TUNNEL_DIAL_TIMEOUT } from './constants.js'
import { parsePeerId } from './peers.js'

const NAME = /^[^/\s]+$/
const DEFAULT_HOST = '127.0.0.1'

interface OpenSender {
  entry: TunnelSender
  server: net.Server
  sockets: Set<net.Socket>
}

/**
 * Tunnels as Kubo's stream mounting has them (`ipfs p2p listen` / `forward`), on libp2p streams:
 * a listener forwards each incoming `/x/<name>` stream to a local TCP port, a sender forwards each
 * connection to a local port to a peer's `/x/<name>`. As in Kubo, when either side ends, both
 * directions are torn down, and `reportPeerId` writes `<peer id>\n` first.
 */
export function createTunnels(libp2p: Libp2p, closing: AbortSignal): Tunnels {
  const listeners = new Map<string, { entry: TunnelListener; sockets: Set<net.Socket> }>()
  const senders: OpenSender[] = []
  const self = libp2p.peerId.toString()

  closing.addEventListener(
    'abort',
    () => {
      for (const listener of listeners.values()) for (const socket of listener.sockets) socket.destroy()
      for (const sender of senders) closeSenderNow(sender)
    },
    { once: true }
  )

  return {
    openListener: async (name: string, port: number, options: OpenListenerOptions = {}) => {
      const protocol = protocolOf(name)
      checkPort(port, false)
      const host = options.host ?? DEFAULT_HOST
      if (net.isIP(host) === 0)
        throw new InvalidArgumentError('host', `"${host}" is not an IPv4 or IPv6 address`)
      return await runCall('tunnels.openListener', options, closing, async () => {
        if (listeners.has(protocol))
          throw new InvalidArgumentError('name', `${protocol} already has a listener; close it first`)
        const entry: TunnelListener = {
          protocol,
          listenAddress: `/p2p/${self}`,
          targetAddress: `/${net.isIPv6(host) ? 'ip6' : 'ip4'}/${host}/tcp/${port}`,
          port
        }
        const sockets = new Set<net.Socket>()
        await libp2p.handle(protocol, (stream, connection) => {
          const socket = net.connect(port, host)
          sockets.add(socket)
          socket.once('close', () => sockets.delete(socket))
          if (options.reportPeerId === true) socket.write(`${connection.remotePeer.toString()}\n`)
          splice(socket, stream)
        })
        listeners.set(protocol, { entry, sockets })
        return { ...entry }
      })
    },

    openSender: async (name: string, port: number, peerId: string, options: OpenSenderOptions = {}) => {
      const protocol = protocolOf(name)
      checkPort(port, true)
      const peer = parsePeerId(peerId)
      const host = options.host ?? DEFAULT_HOST
      if (net.isIP(host) === 0)
        throw new InvalidArgumentError('host', `"${host}" is not an IPv4 or IPv6 address`)
      return await runCall('tunnels.openSender', options, closing, async () => {
        const sockets = new Set<net.Socket>()
        const server = net.createServer(socket => {
          sockets.add(socket)
          socket.once('close', () => sockets.delete(socket))
          socket.pause()
          libp2p
            .dialProtocol(peer, protocol, { signal: AbortSignal.timeout(TUNNEL_DIAL_TIMEOUT) })
            .then(stream => {
              splice(socket, stream)
              socket.resume()
            })
            // As in Kubo, a failed dial shows up as the connection closing.
            .catch(() => socket.destroy())
        })
        server.listen(port, host)
        await once(server, 'listening')
        const actual = (server.address() as net.AddressInfo).port
        const entry: TunnelSender = {
          protocol,
          listenAddress: `/${net.isIPv6(host) ? 'ip6' : 'ip4'}/${host}/tcp/${actual}`,
          targetAddress: `/p2p/${peerId}`,
          peerId,
          port: actual
        }
        senders.push({ entry, server, sockets })
        return { ...entry }
      })
    },

    closeListener: async (name: string, options: CloseListenerOptions = {}) => {
      const protocol = protocolOf(name)
      return await runCall('tunnels.closeListener', options, closing, async () => {
        const listener = listeners.get(protocol)
        if (listener == null || (options.port != null && listener.entry.port !== options.port)) return 0
        listeners.delete(protocol)
        await libp2p.unhandle(protocol)
        for (const socket of listener.sockets) socket.destroy()
        return 1
      })
    },

    closeSender: async (name: string, options: CloseSenderOptions = {}) => {
      const protocol = protocolOf(name)
      if (options.peerId != null) parsePeerId(options.peerId)
      return await runCall('tunnels.closeSender', options, closing, async () => {
        const matching = senders.filter(
          sender =>
            sender.entry.protocol === protocol &&
            (options.port == null || sender.entry.port === options.port) &&
            (options.peerId == null || sender.entry.peerId === options.peerId)
        )
        for (const sender of matching) {
          senders.splice(senders.indexOf(sender), 1)
          closeSenderNow(sender)
        }
        return matching.length
      })
    },

    list: async (options: CallOptions = {}): Promise<TunnelList> =>
      await runCall('tunnels.list', options, closing, async () => ({
        listeners: [...listeners.values()].map(listener => ({ ...listener.entry })),
        senders: senders.map(sender => ({ ...sender.entry }))
      }))
  }
}

function closeSenderNow(sender: OpenSender): void {
  sender.server.close()
  for (const socket of sender.sockets) socket.destroy()
}

/** `name` or `/x/name` → `/x/name`. */
function protocolOf(name: string): string {
  const bare = typeof name === 'string' && name.startsWith('/x/') ? name.slice(3) : name
  if (typeof bare !== 'string' || !NAME.test(bare))
    throw new InvalidArgumentError(
      'name',
      `expected a name such as "chat" or "/x/chat", got ${JSON.stringify(name)}`
    )
  return `/x/${bare}`
}

function checkPort(port: number, zeroAllowed: boolean): void {
  if (!Number.isInteger(port) || port < (zeroAllowed ? 0 : 1) || port > 65_535)
    throw new InvalidArgumentError(
      'port',
      `expected a TCP port ${zeroAllowed ? '0' : '1'}–65535, got ${String(port)}`
    )
}

/**
 * Copies both ways between a TCP socket and a libp2p stream, with backpressure each way; when
 * either side ends or fails, both are torn down (Kubo's tunnels have no half-close either).
 */
function splice(socket: net.Socket, stream: Stream): void {
  let done = false
  const tearDown = (): void => {
    if (done) return
    done = true
    socket.destroy()
    stream.close().catch(() => stream.abort(new Error('tunnel closed')))
  }
  socket.on('data', chunk => {
    if (!stream.send(chunk)) {
      socket.pause()
      stream.onDrain().then(
        () => socket.resume(),
        () => tearDown()
      )
    }
  })
  socket.once('end', tearDown)
  socket.once('error', tearDown)
  socket.once('close', tearDown)
  void (async () => {
    let failed = false
    try {
      for await (const chunk of stream) {
        if (done) return
        if (!socket.write(chunk instanceof Uint8Array ? chunk : chunk.subarray())) await once(socket, 'drain')
      }
    } catch {
      // A reset stream or a destroyed socket: torn down below.
      failed = true
    } finally {
      // The peer ended its side: let what was written reach the service first, then end both.
      if (failed || done) tearDown()
      else socket.end(tearDown)
    }
  })()
}
