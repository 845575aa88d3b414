import type { Libp2p, PeerInfo } from '@libp2p/interface'
import { peerIdFromCID } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'

/**
 * Helia's router over libp2p's content and peer routing (the DHT), as @helia/libp2p's
 * `libp2pRouting` is; written here because that package brings every default transport along.
 */
export function libp2pRouter(libp2p: Libp2p) {
  const toPeer = (info: PeerInfo) => ({ ...info, id: info.id.toCID(), router: 'libp2p-router' })
  return {
    name: 'libp2p-router',
    provide: async (cid: CID, options?: { signal?: AbortSignal }) => {
      await libp2p.contentRouting.provide(cid, options)
    },
    cancelReprovide: async (key: CID, options?: { signal?: AbortSignal }) => {
      await libp2p.contentRouting.cancelReprovide(key, options)
    },
    findProviders: async function* (cid: CID, options?: { signal?: AbortSignal }) {
      for await (const info of libp2p.contentRouting.findProviders(cid, options))
        yield { ...toPeer(info), fallback: false }
    },
    put: async (key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }) => {
      await libp2p.contentRouting.put(key, value, options)
    },
    get: async (key: Uint8Array, options?: { signal?: AbortSignal }) =>
      await libp2p.contentRouting.get(key, options),
    findPeer: async (peerId: CID, options?: { signal?: AbortSignal }) =>
      toPeer(await libp2p.peerRouting.findPeer(peerIdFromCID(peerId), options)),
    getClosestPeers: async function* (key: Uint8Array, options?: { signal?: AbortSignal }) {
      for await (const info of libp2p.peerRouting.getClosestPeers(key, options)) yield toPeer(info)
    },
    toString: () => 'Libp2pRouter()'
  }
}
