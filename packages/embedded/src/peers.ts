import type { Libp2p, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Ping } from '@libp2p/ping'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import {
  type CallOptions,
  type ConnectOptions,
  type FindProvidersOptions,
  InvalidArgumentError,
  type IsConnectedOptions,
  ModeNotSupportedError,
  type PeerConnection,
  PeerNotFoundError,
  type Peers
} from '@tk/interface'
import { CID } from 'multiformats/cid'
import { runCall } from './call.js'
import { DEFAULT_MAX_PROVIDERS } from './constants.js'

/** Peers on the embedded node: libp2p's connections and peer store. */
export function createPeers(libp2p: Libp2p<{ ping: Ping; dht?: KadDHT }>, closing: AbortSignal): Peers {
  return {
    connect: async (address: string, options: ConnectOptions = {}) => {
      let target: Multiaddr = parseAddress(address)
      const named = target.getComponents().findLast(component => component.name === 'p2p')?.value
      if (named == null) {
        if (options.peerId == null)
          throw new InvalidArgumentError(
            'multiaddr',
            `"${address}" does not end in /p2p/<peer id>; pass { peerId }`
          )
        parsePeerId(options.peerId)
        target = target.encapsulate(`/p2p/${options.peerId}`)
      } else if (options.peerId != null && options.peerId !== named) {
        throw new InvalidArgumentError('peerId', `"${options.peerId}" is not the peer ${address} names`)
      }
      return await runCall('peers.connect', options, closing, async signal =>
        (await libp2p.dial(target, { signal })).remotePeer.toString()
      )
    },

    disconnect: async (peerId: string, options: CallOptions = {}) => {
      const peer = parsePeerId(peerId)
      return await runCall('peers.disconnect', options, closing, async signal => {
        const had = libp2p.getConnections(peer).length > 0
        await libp2p.hangUp(peer, { signal })
        return had
      })
    },

    list: async (options: CallOptions = {}) =>
      await runCall('peers.list', options, closing, async () => [
        ...new Set(libp2p.getConnections().map(connection => connection.remotePeer.toString()))
      ]),

    connections: async (peerId: string, options: CallOptions = {}) => {
      const peer = parsePeerId(peerId)
      return await runCall('peers.connections', options, closing, async () =>
        libp2p
          .getConnections(peer)
          // A connection that is closing carries nothing any more: it is not one to report as in use.
          .filter(connection => connection.status === 'open')
          .map(
            (connection): PeerConnection => ({
              peerId,
              address: withPeerId(connection.remoteAddr.toString(), peerId),
              direction: connection.direction
            })
          )
      )
    },

    isConnected: async (peerId: string, options: IsConnectedOptions = {}) => {
      const peer = parsePeerId(peerId)
      if (options.ping === false) return libp2p.getConnections(peer).length > 0
      return await runCall('peers.isConnected', options, closing, async signal => {
        try {
          await libp2p.services.ping.ping(peer, { signal })
          return true
        } catch (error) {
          // The deadline or the caller's abort is the caller's answer, not "not connected".
          if (signal.aborted) throw error
          return false
        }
      })
    },

    find: async (peerId: string, options: CallOptions = {}) => {
      const peer = parsePeerId(peerId)
      return await runCall('peers.find', options, closing, async signal => {
        const addresses = new Set(
          libp2p.getConnections(peer).map(connection => withPeerId(connection.remoteAddr.toString(), peerId))
        )
        const stored = await libp2p.peerStore.get(peer, { signal }).catch(() => undefined)
        for (const address of stored?.addresses ?? [])
          addresses.add(withPeerId(address.multiaddr.toString(), peerId))
        if (addresses.size === 0 && libp2p.services.dht != null) {
          try {
            const found = await libp2p.peerRouting.findPeer(peer, { signal })
            for (const address of found.multiaddrs) addresses.add(withPeerId(address.toString(), peerId))
          } catch (error) {
            if (signal.aborted) throw signal.reason
            throw new PeerNotFoundError(peerId, { cause: error })
          }
        }
        if (addresses.size === 0) throw new PeerNotFoundError(peerId)
        return { id: peerId, addresses: [...addresses] }
      })
    },

    findProviders: async (cid: string, options: FindProvidersOptions = {}) => {
      const parsed = parseCid(cid)
      const maxProviders = options.maxProviders ?? DEFAULT_MAX_PROVIDERS
      if (!Number.isInteger(maxProviders) || maxProviders < 1)
        throw new InvalidArgumentError(
          'maxProviders',
          `expected a whole number >= 1, got ${String(maxProviders)}`
        )
      if (libp2p.services.dht == null) {
        throw new ModeNotSupportedError(
          'peers.findProviders',
          'embedded',
          "This node runs no DHT (dht: 'off'); start it with dht: 'lan' or 'wan', or use a Kubo node."
        )
      }
      return await runCall('peers.findProviders', options, closing, async signal => {
        const providers = new Set<string>()
        for await (const provider of libp2p.contentRouting.findProviders(parsed, { signal })) {
          providers.add(provider.id.toString())
          if (providers.size >= maxProviders) break
        }
        return [...providers]
      })
    }
  }
}

function parseCid(value: string): CID {
  try {
    return CID.parse(value)
  } catch (error) {
    throw new InvalidArgumentError('cid', `"${String(value)}" is not a CID`, { cause: error })
  }
}

function withPeerId(address: string, peerId: string): string {
  return address.endsWith(`/p2p/${peerId}`) ? address : `${address}/p2p/${peerId}`
}

function parseAddress(address: string): Multiaddr {
  try {
    return multiaddr(address)
  } catch (error) {
    throw new InvalidArgumentError('multiaddr', `"${String(address)}" is not a multiaddr`, { cause: error })
  }
}

export function parsePeerId(peerId: string): PeerId {
  try {
    return peerIdFromString(peerId)
  } catch (error) {
    throw new InvalidArgumentError('peerId', `"${String(peerId)}" is not a peer id`, { cause: error })
  }
}
