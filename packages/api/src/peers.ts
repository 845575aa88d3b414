import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr as parseMultiaddr } from '@multiformats/multiaddr'
import { type PeerConnection, PeerNotFoundError } from '@tk/interface'
import { InvalidArgumentError, KuboRpcError } from '@tk/rpc'
import { checkCid, checkMultiaddr, checkPeerId } from '@tk/rpc/validate'
import type { ApiContext } from './context.js'
import type { CallOptions } from './options.js'

/** Where a peer can be reached, as routing found it. */
export interface PeerAddressInfo {
  /** The peer id. */
  id: string
  /** Its multiaddrs, each ending in `/p2p/<id>` so that `connectToPeer` takes them as they are. */
  addresses: string[]
}

export interface ConnectToPeerOptions extends CallOptions {
  /** The peer to reach when `multiaddr` does not end in `/p2p/<peerId>` itself. */
  peerId?: string
}

export interface IsPeerConnectedOptions extends CallOptions {
  /**
   * Send one ping (default true): true only when the peer answers; Kubo dials the peer first if
   * there is no connection yet. With `false`, only looks for an open connection (no traffic).
   */
  ping?: boolean
}

export interface FindProvidersOptions extends CallOptions {
  /** Stop the search after this many providers (default 20). */
  maxProviders?: number
}

export type { PeerConnection }
// The same error as @tk/interface's (one class, so `name` and `instanceof` agree across modes).
export { PeerNotFoundError }

const DEFAULT_MAX_PROVIDERS = 20

/** Kubo's answers when a peer lookup ran but found nothing (the DHT's `routing: not found`, an empty routing table). */
const PEER_NOT_FOUND = /not found|failed to find any peer|no peers/i

/** The routing events that carry results (@tk/rpc's `RoutingEventType`). */
const FINAL_PEER_EVENT = 'final-peer'
const PROVIDER_EVENT = 'provider'

/** Appends `/p2p/<peerId>` unless the address already ends in it. */
function withPeerId(address: string, peerId: string): string {
  return address.endsWith(`/p2p/${peerId}`) ? address : `${address}/p2p/${peerId}`
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)]
}

/** The peer id an address leads to: its last `/p2p/` part (a relay address names the relay first). */
function peerIdOf(address: string): string | undefined {
  const components = parseMultiaddr(address).getComponents()
  for (let index = components.length - 1; index >= 0; index--) {
    const component = components[index]
    if (component?.name === 'p2p' || component?.name === 'ipfs') return component.value
  }
  return undefined
}

/** Throws unless `filter` is an address range Kubo can filter by: `/ip4/<address>/ipcidr/<bits>` (or ip6). */
function checkFilter(filter: string): string {
  const checked = checkMultiaddr(filter, 'filter')
  if (!/^\/ip[46]\/[^/]+\/ipcidr\/\d+$/.test(checked)) {
    throw new InvalidArgumentError(
      'filter',
      `"${filter}" is not an address range; write it as /ip4/<address>/ipcidr/<prefix bits>, e.g. /ip4/10.0.0.0/ipcidr/8`
    )
  }
  return checked
}

/** Peer functions: who we are connected to, finding and reaching peers and content providers, address filters. */
/** How often `findPeer` asks when routing finds the peer but no address for it yet. */
const FIND_PEER_ATTEMPTS = 10
/** The pause between those attempts (ms): identify takes a round trip or two on a new connection. */
const FIND_PEER_RETRY_DELAY = 100

export function createPeerFunctions(context: ApiContext) {
  const { client } = context

  /** The addresses routing gives for `peerId`; PeerNotFoundError when it finds nothing. */
  const findPeerAddresses = async (peerId: string, options: CallOptions): Promise<string[]> => {
    try {
      for await (const event of client.routing.findpeer(peerId, callOptions(options))) {
        if (event.type !== FINAL_PEER_EVENT) continue
        const found = event.responses.find(response => response.id === peerId)
        if (found != null) return unique(found.addresses.map(address => withPeerId(address, peerId)))
      }
    } catch (error) {
      if (error instanceof KuboRpcError && PEER_NOT_FOUND.test(error.kuboMessage)) {
        throw new PeerNotFoundError(peerId, { cause: error })
      }
      throw error
    }
    throw new PeerNotFoundError(peerId)
  }
  const callOptions = (options: CallOptions): CallOptions => ({
    signal: options.signal,
    timeout: options.timeout
  })

  return {
    /** The peer ids this node has open connections to, each once. */
    listPeers: async (options: CallOptions = {}): Promise<string[]> =>
      unique((await client.swarm.peers(callOptions(options))).map(peer => peer.peerId)),

    /**
     * The open connections to a peer (`swarm peers`), each with the remote address it uses (ending
     * in `/p2p/<peerId>`) and who dialled; empty when there is none.
     */
    listConnections: async (peerId: string, options: CallOptions = {}): Promise<PeerConnection[]> => {
      checkPeerId(peerId)
      return (await client.swarm.peers({ ...callOptions(options), direction: true }))
        .filter(peer => peer.peerId === peerId)
        .map(peer => ({
          peerId,
          address: withPeerId(peer.address, peerId),
          ...(peer.direction == null ? {} : { direction: peer.direction })
        }))
    },

    /**
     * The addresses this node knows for a peer (its peerstore, as `swarm addrs` lists it: what the
     * peer announced, and what routing found), each ending in `/p2p/<peerId>`; no network lookup
     * (that is `findPeer`). Empty when the peer is unknown.
     */
    getPeerMultiaddrs: async (peerId: string, options: CallOptions = {}): Promise<string[]> => {
      checkPeerId(peerId)
      const known = await client.swarm.addrs(callOptions(options))
      return unique((known[peerId] ?? []).map(address => withPeerId(address, peerId)))
    },

    /**
     * Looks a peer up through routing (the DHT); its addresses end in `/p2p/<peerId>`. Rejects
     * with `PeerNotFoundError` when routing finds nothing.
     */
    findPeer: async (peerId: string, options: CallOptions = {}): Promise<PeerAddressInfo> => {
      checkPeerId(peerId)
      // `timeout` is the whole call's, however many times routing is asked.
      const deadline = options.timeout == null ? undefined : Date.now() + options.timeout
      for (let attempt = 1; ; attempt++) {
        const timeout = deadline == null ? undefined : Math.max(1, deadline - Date.now())
        const addresses = await findPeerAddresses(peerId, { signal: options.signal, timeout })
        // Kubo answers from its peerstore for a peer it has just connected to (routing may make it
        // dial), and before identify has run that holds no address yet: ask again, a few times.
        const outOfTime = deadline != null && Date.now() + FIND_PEER_RETRY_DELAY >= deadline
        if (addresses.length > 0 || attempt >= FIND_PEER_ATTEMPTS || outOfTime)
          return { id: peerId, addresses }
        await sleep(FIND_PEER_RETRY_DELAY, undefined, { signal: options.signal }).catch((error: unknown) => {
          // Node rejects with its own AbortError; the caller gets its signal's reason.
          options.signal?.throwIfAborted()
          throw error
        })
      }
    },

    /**
     * Opens a connection to a peer at a multiaddr that ends in `/p2p/<peerId>` (or give `peerId`);
     * `/p2p/<peerId>` alone lets routing find the addresses. Resolves with the peer id once connected.
     */
    connectToPeer: async (multiaddr: string, options: ConnectToPeerOptions = {}): Promise<string> => {
      let address = checkMultiaddr(multiaddr, 'multiaddr')
      const named = peerIdOf(address)
      if (options.peerId != null) {
        checkPeerId(options.peerId)
        if (named != null && named !== options.peerId) {
          throw new InvalidArgumentError(
            'peerId',
            `"${options.peerId}" differs from the peer ${named} that the multiaddr names`
          )
        }
        address = withPeerId(address, options.peerId)
      } else if (named == null) {
        throw new InvalidArgumentError(
          'multiaddr',
          `"${multiaddr}" does not say which peer to reach: end it in /p2p/<peerId> or pass the peerId option`
        )
      } else {
        checkPeerId(named, 'multiaddr')
      }
      const peerId = options.peerId ?? named ?? ''
      const [result] = await client.swarm.connect(address, callOptions(options))
      // Kubo reports a failed dial as an error; a `failure` line is the same refusal in its output.
      if (result != null && !result.success) {
        throw new KuboRpcError('swarm/connect', 200, `connect ${peerId} failure: ${result.error ?? ''}`)
      }
      return peerId
    },

    /** Closes every connection to a peer; resolves with whether there was one. */
    disconnectFromPeer: async (peerId: string, options: CallOptions = {}): Promise<boolean> => {
      checkPeerId(peerId)
      const peers = await client.swarm.peers(callOptions(options))
      if (!peers.some(peer => peer.peerId === peerId)) return false
      await client.swarm.disconnect(`/p2p/${peerId}`, callOptions(options))
      return true
    },

    /**
     * Whether a peer is reachable now: by default one ping it must answer; `false` (never an
     * error) when it does not or cannot be dialled. With `ping: false`, whether a connection is open.
     */
    isPeerConnected: async (peerId: string, options: IsPeerConnectedOptions = {}): Promise<boolean> => {
      checkPeerId(peerId)
      if (options.ping === false) {
        return (await client.swarm.peers(callOptions(options))).some(peer => peer.peerId === peerId)
      }
      try {
        for await (const reply of client.ping(peerId, { ...callOptions(options), count: 1 })) {
          // Kubo first writes status lines ("Looking up peer …", "PING …": success, no time);
          // the ping's own line has a time or failed. Leaving the loop ends the request: Kubo would
          // otherwise hold it a second longer before its average line.
          if (!reply.success) return false
          if (reply.text === '' || reply.time > 0) return true
        }
        return false
      } catch (error) {
        // Kubo's "ping failed" / "peer lookup failed": the answer is no, not an error.
        if (error instanceof KuboRpcError) return false
        throw error
      }
    },

    /** Peers that announce they provide a CID, found through routing (the DHT); each peer id once. */
    findProviders: async (cid: string, options: FindProvidersOptions = {}): Promise<string[]> => {
      checkCid(cid)
      const maxProviders = options.maxProviders ?? DEFAULT_MAX_PROVIDERS
      if (!Number.isInteger(maxProviders) || maxProviders < 1) {
        throw new InvalidArgumentError(
          'maxProviders',
          `expected a whole number >= 1, got ${String(maxProviders)}`
        )
      }
      const providers = new Set<string>()
      for await (const event of client.routing.findprovs(cid, {
        ...callOptions(options),
        numProviders: maxProviders
      })) {
        if (event.type !== PROVIDER_EVENT) continue
        for (const response of event.responses) providers.add(response.id)
      }
      return [...providers]
    },

    /**
     * Stops this node from dialling or accepting peers in an address range (`/ip4/10.0.0.0/ipcidr/8`);
     * Kubo also saves it to `Swarm.AddrFilters`.
     */
    addSwarmFilter: async (filter: string, options: CallOptions = {}): Promise<void> => {
      await client.swarm.filters.add(checkFilter(filter), callOptions(options))
    },

    /** Removes an address filter added with `addSwarmFilter` (or from `Swarm.AddrFilters`). */
    removeSwarmFilter: async (filter: string, options: CallOptions = {}): Promise<void> => {
      await client.swarm.filters.rm(checkFilter(filter), callOptions(options))
    },

    /** The address filters in force, as `/ip4/<network>/ipcidr/<prefix bits>` ranges. */
    listSwarmFilters: async (options: CallOptions = {}): Promise<string[]> =>
      await client.swarm.filters(callOptions(options))
  }
}
