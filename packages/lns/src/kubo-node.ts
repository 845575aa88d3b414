import { type PeerConnection, PeerNotFoundError } from '@tk/interface'
import { type CallOptions, type KuboClient, KuboRpcError } from '@tk/rpc'
import type { ContactsNode } from './node.js'

/** Kubo's answers when a peer lookup ran but found nothing (as @tk/api reads them). */
const PEER_NOT_FOUND = /not found|failed to find any peer|no peers/i

function withPeerId(address: string, peerId: string): string {
  return address.endsWith(`/p2p/${peerId}`) ? address : `${address}/p2p/${peerId}`
}

/**
 * The three peer calls contacts need, on a bare @tk/rpc `KuboClient`: what backs the deprecated
 * `client` option (and the default when no node is given), so stores opened that way keep working.
 * The addresses it is given always end in `/p2p/<peerId>` (the store writes them so).
 */
export function contactsNodeFromKuboClient(client: KuboClient): ContactsNode {
  return {
    peers: {
      connect: async (multiaddr: string, options: CallOptions = {}): Promise<string> => {
        const peerId = multiaddr.slice(multiaddr.lastIndexOf('/p2p/') + '/p2p/'.length)
        const [result] = await client.swarm.connect(multiaddr, options)
        // Kubo reports a failed dial as an error; a `failure` line is the same refusal in its output.
        if (result != null && !result.success) {
          throw new KuboRpcError('swarm/connect', 200, `connect ${peerId} failure: ${result.error ?? ''}`)
        }
        return peerId
      },

      connections: async (peerId: string, options: CallOptions = {}): Promise<PeerConnection[]> =>
        (await client.swarm.peers({ ...options, direction: true }))
          .filter(connection => connection.peerId === peerId)
          .map(connection => ({
            peerId,
            address: withPeerId(connection.address, peerId),
            ...(connection.direction == null ? {} : { direction: connection.direction })
          })),

      find: async (peerId: string, options: CallOptions = {}) => {
        const addresses = new Set<string>()
        let found = false
        try {
          for await (const event of client.routing.findpeer(peerId, options)) {
            if (event.type !== 'final-peer') continue
            for (const response of event.responses) {
              if (response.id !== peerId) continue
              found = true
              for (const address of response.addresses) addresses.add(withPeerId(address, peerId))
            }
          }
        } catch (error) {
          if (options.signal?.aborted === true) throw error
          // Kubo can end a lookup with an error after it has answered; the answer stands.
          if (found) return { id: peerId, addresses: [...addresses] }
          if (error instanceof KuboRpcError && PEER_NOT_FOUND.test(error.kuboMessage)) {
            throw new PeerNotFoundError(peerId, { cause: error })
          }
          throw error
        }
        if (!found) throw new PeerNotFoundError(peerId)
        return { id: peerId, addresses: [...addresses] }
      }
    }
  }
}
