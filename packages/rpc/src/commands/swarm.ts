import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkMultiaddr, checkPeerId } from '../validate.js'
import type { PeerInfo } from './root.js'

export interface SwarmPeersOptions extends CallOptions {
  /** Everything below at once: latency, streams, direction and identify. */
  verbose?: boolean
  /** List the protocol of each open stream. */
  streams?: boolean
  /** Measure each peer's latency. */
  latency?: boolean
  /** Say whether each connection was dialled by us or by them. */
  direction?: boolean
  /** Include what each peer told us about itself (identify). */
  identify?: boolean
}

/** One open connection, as `swarm peers` lists it. */
export interface SwarmPeer {
  /** The remote peer id. */
  peerId: string
  /** The remote address of the connection, without `/p2p/<peerId>`. */
  address: string
  /** Round-trip time in ms; absent unless asked for, or when Kubo has no measurement yet. */
  latency?: number
  /** `outbound` when we dialled, `inbound` when they did; absent unless asked for or unknown. */
  direction?: 'inbound' | 'outbound'
  /** One entry per open stream (protocol `''` when a stream has not negotiated one); only when asked for. */
  streams?: SwarmStream[]
  /** What the peer told us about itself; only when asked for. */
  identify?: PeerInfo
}

export interface SwarmStream {
  protocol: string
}

/** The outcome for one peer of `swarm connect` or `swarm disconnect`. */
export interface SwarmConnectionResult {
  peerId: string
  success: boolean
  /** Kubo's reason when `success` is false. */
  error?: string
}

export interface SwarmAddrsLocalOptions extends CallOptions {
  /** Append `/p2p/<peerId>` to each address. */
  id?: boolean
}

/** AutoNAT v2's view of this node's reachability. */
export interface AutonatResult {
  /** `Public`, `Private` or `Unknown`. */
  reachability: string
  /** `cgnat` or `double-nat` when Kubo could tell; absent otherwise. */
  nat?: string
  /** Addresses confirmed reachable from the internet. */
  reachable: string[]
  /** Addresses that failed the reachability check. */
  unreachable: string[]
  /** Addresses not tested yet. */
  unknown: string[]
}

/** A peer in the peering subsystem (kept connected, reconnected with back-off). */
export interface PeeringPeer {
  id: string
  addresses: string[]
}

/** A limit of the libp2p resource manager: a number, or one of its special values. */
export type ResourceLimit = number | 'unlimited' | 'blockAll' | 'useDefault'

/** The limits of one resource-manager scope and what is in use against them. */
export interface ResourceLimitsAndUsage {
  /** Bytes. */
  memory: ResourceLimit
  /** Bytes. */
  memoryUsage: number
  fileDescriptors: ResourceLimit
  fileDescriptorsUsage: number
  connections: ResourceLimit
  connectionsUsage: number
  connectionsInbound: ResourceLimit
  connectionsInboundUsage: number
  connectionsOutbound: ResourceLimit
  connectionsOutboundUsage: number
  streams: ResourceLimit
  streamsUsage: number
  streamsInbound: ResourceLimit
  streamsInboundUsage: number
  streamsOutbound: ResourceLimit
  streamsOutboundUsage: number
}

/** `swarm resources`: each scope of the libp2p resource manager; the maps are keyed by service name, protocol and peer id. */
export interface SwarmResources {
  system: ResourceLimitsAndUsage
  transient: ResourceLimitsAndUsage
  services: Record<string, ResourceLimitsAndUsage>
  protocols: Record<string, ResourceLimitsAndUsage>
  peers: Record<string, ResourceLimitsAndUsage>
}

interface RawIdentify {
  ID: string
  PublicKey: string
  Addresses: string[] | null
  AgentVersion: string
  Protocols: string[] | null
}

interface RawConnection {
  Addr?: string
  Peer?: string
  Latency?: string
  Direction?: number
  Streams?: Array<{ Protocol: string }> | null
  Identify?: RawIdentify
}

type RawLimit = number | string

interface RawLimitsAndUsage {
  Memory: RawLimit
  MemoryUsage: number
  FD: RawLimit
  FDUsage: number
  Conns: RawLimit
  ConnsUsage: number
  ConnsInbound: RawLimit
  ConnsInboundUsage: number
  ConnsOutbound: RawLimit
  ConnsOutboundUsage: number
  Streams: RawLimit
  StreamsUsage: number
  StreamsInbound: RawLimit
  StreamsInboundUsage: number
  StreamsOutbound: RawLimit
  StreamsOutboundUsage: number
}

interface RawResources {
  System: RawLimitsAndUsage
  Transient: RawLimitsAndUsage
  Services?: Record<string, RawLimitsAndUsage> | null
  Protocols?: Record<string, RawLimitsAndUsage> | null
  Peers?: Record<string, RawLimitsAndUsage> | null
}

const GO_DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

/** Go's `time.Duration.String()` (`1.5ms`, `2m3.5s`) in ms; undefined for anything else (Kubo's `n/a`). */
function parseGoDuration(value: string | undefined): number | undefined {
  if (value == null || !/^(\d+(\.\d+)?(ns|us|µs|μs|ms|s|m|h))+$/.test(value)) return undefined
  let total = 0
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(match[1]) * (GO_DURATION_UNITS[match[2] ?? ''] ?? 0)
  }
  return total
}

function toSwarmPeer(raw: RawConnection): SwarmPeer {
  const latency = parseGoDuration(raw.Latency)
  // libp2p's network.Direction: 0 unknown, 1 inbound, 2 outbound.
  const direction = raw.Direction === 1 ? 'inbound' : raw.Direction === 2 ? 'outbound' : undefined
  const identify = raw.Identify
  return {
    peerId: raw.Peer ?? '',
    address: raw.Addr ?? '',
    ...(latency == null ? {} : { latency }),
    ...(direction == null ? {} : { direction }),
    ...(raw.Streams == null ? {} : { streams: raw.Streams.map(stream => ({ protocol: stream.Protocol })) }),
    // Kubo always sends Identify; its ID is empty unless identify (or verbose) was asked for.
    ...(identify == null || identify.ID === ''
      ? {}
      : {
          identify: {
            id: identify.ID,
            publicKey: identify.PublicKey,
            addresses: list(identify.Addresses),
            agentVersion: identify.AgentVersion,
            protocols: list(identify.Protocols)
          }
        })
  }
}

function toLimit(value: RawLimit): ResourceLimit {
  // 64-bit limits (memory) arrive as strings of digits; the special values as words.
  if (typeof value === 'number') return value
  if (/^\d+$/.test(value)) return Number(value)
  return value as ResourceLimit
}

function toLimitsAndUsage(raw: RawLimitsAndUsage): ResourceLimitsAndUsage {
  return {
    memory: toLimit(raw.Memory),
    memoryUsage: raw.MemoryUsage,
    fileDescriptors: toLimit(raw.FD),
    fileDescriptorsUsage: raw.FDUsage,
    connections: toLimit(raw.Conns),
    connectionsUsage: raw.ConnsUsage,
    connectionsInbound: toLimit(raw.ConnsInbound),
    connectionsInboundUsage: raw.ConnsInboundUsage,
    connectionsOutbound: toLimit(raw.ConnsOutbound),
    connectionsOutboundUsage: raw.ConnsOutboundUsage,
    streams: toLimit(raw.Streams),
    streamsUsage: raw.StreamsUsage,
    streamsInbound: toLimit(raw.StreamsInbound),
    streamsInboundUsage: raw.StreamsInboundUsage,
    streamsOutbound: toLimit(raw.StreamsOutbound),
    streamsOutboundUsage: raw.StreamsOutboundUsage
  }
}

function mapScopes(
  scopes: Record<string, RawLimitsAndUsage> | null | undefined
): Record<string, ResourceLimitsAndUsage> {
  // Keys are service names, protocols and peer ids: data, kept as Kubo sends them.
  return Object.fromEntries(
    Object.entries(scopes ?? {}).map(([name, scope]) => [name, toLimitsAndUsage(scope)])
  )
}

/** Kubo's `connect <id> success` / `disconnect <id> failure: <reason>` lines. */
function toConnectionResult(line: string): SwarmConnectionResult {
  const match = /^(?:connect|disconnect) (\S+) (?:(success)|failure: ?([\s\S]*))$/.exec(line)
  if (match == null) return { peerId: '', success: false, error: line }
  return match[2] === 'success'
    ? { peerId: match[1] ?? '', success: true }
    : { peerId: match[1] ?? '', success: false, error: match[3] ?? '' }
}

function toArray(value: string | readonly string[]): string[] {
  return typeof value === 'string' ? [value] : [...value]
}

function checkAddresses(addresses: string | readonly string[], argument: string): string[] {
  const values = toArray(addresses)
  if (values.length === 0) throw new InvalidArgumentError(argument, 'give at least one multiaddr')
  return values.map(address => checkMultiaddr(address, argument))
}

/** A multiaddr that ends in `/p2p/<peerId>` (the peering subsystem needs to know whom it reaches). */
function checkPeerAddress(address: string, argument: string): string {
  const checked = checkMultiaddr(address, argument)
  const match = /\/(?:p2p|ipfs)\/([^/]+)$/.exec(checked)
  if (match == null) throw new InvalidArgumentError(argument, `"${address}" must end in /p2p/<peerId>`)
  checkPeerId(match[1] ?? '', argument)
  return checked
}

/** `swarm/*`: the node's connections to other peers, its addresses, filters and peering. */
export function createSwarmCommands(invoker: Invoker) {
  const strings = async (
    command: string,
    options: CallOptions,
    args?: readonly string[]
  ): Promise<string[]> =>
    list((await invoker.json<{ Strings: string[] | null }>(command, options, { args })).Strings)

  const addrs = Object.assign(
    /** Every address this node knows for each peer, keyed by peer id. */
    async (options: CallOptions = {}): Promise<Record<string, string[]>> => {
      const raw = await invoker.json<{ Addrs: Record<string, string[] | null> | null }>(
        'swarm/addrs',
        options
      )
      return Object.fromEntries(
        Object.entries(raw.Addrs ?? {}).map(([peerId, addresses]) => [peerId, list(addresses)])
      )
    },
    {
      /** The addresses this node listens on, per network interface. */
      listen: async (options: CallOptions = {}): Promise<string[]> =>
        await strings('swarm/addrs/listen', options),
      /** The addresses this node announces to the network. */
      local: async (options: SwarmAddrsLocalOptions = {}): Promise<string[]> =>
        await strings('swarm/addrs/local', options),
      /** Which of this node's addresses AutoNAT v2 found reachable. */
      autonat: async (options: CallOptions = {}): Promise<AutonatResult> => {
        const raw = await invoker.json<{
          reachability: string
          nat?: string
          reachable?: string[] | null
          unreachable?: string[] | null
          unknown?: string[] | null
        }>('swarm/addrs/autonat', options)
        return {
          reachability: raw.reachability,
          ...(raw.nat == null || raw.nat === '' ? {} : { nat: raw.nat }),
          reachable: list(raw.reachable),
          unreachable: list(raw.unreachable),
          unknown: list(raw.unknown)
        }
      }
    }
  )

  const filters = Object.assign(
    /** The address filters in force (`/ip4/10.0.0.0/ipcidr/8` form): peers in these ranges are not dialled or accepted. */
    async (options: CallOptions = {}): Promise<string[]> => await strings('swarm/filters', options),
    {
      /** Adds address filters (also saved to `Swarm.AddrFilters`); resolves with the ones added. */
      add: async (filter: string | readonly string[], options: CallOptions = {}): Promise<string[]> =>
        await strings('swarm/filters/add', options, checkAddresses(filter, 'filter')),
      /** Removes address filters (`'all'` removes every one); resolves with the ones removed from the config. */
      rm: async (filter: string | readonly string[], options: CallOptions = {}): Promise<string[]> => {
        const values = toArray(filter)
        const all = values[0] === 'all' || values[0] === '*'
        return await strings('swarm/filters/rm', options, all ? ['all'] : checkAddresses(values, 'filter'))
      }
    }
  )

  const peering = {
    /** Adds peers (multiaddrs ending in `/p2p/<peerId>`) that the node keeps connected; not saved to the config. Resolves with their peer ids. */
    add: async (address: string | readonly string[], options: CallOptions = {}): Promise<string[]> => {
      const values = toArray(address)
      if (values.length === 0) throw new InvalidArgumentError('address', 'give at least one multiaddr')
      const args = values.map(value => checkPeerAddress(value, 'address'))
      const added: string[] = []
      for await (const raw of invoker.ndjson<{ ID: string; Status: string }>('swarm/peering/add', options, {
        args
      }))
        added.push(raw.ID)
      return added
    },
    /** The peers in the peering subsystem and the addresses it uses for them. */
    ls: async (options: CallOptions = {}): Promise<PeeringPeer[]> => {
      const raw = await invoker.json<{ Peers: Array<{ ID: string; Addrs: string[] | null }> | null }>(
        'swarm/peering/ls',
        options
      )
      return list(raw.Peers).map(peer => ({ id: peer.ID, addresses: list(peer.Addrs) }))
    },
    /** Removes peers from the peering subsystem (the connections stay open); resolves with their peer ids. */
    rm: async (peerId: string | readonly string[], options: CallOptions = {}): Promise<string[]> => {
      const values = toArray(peerId)
      if (values.length === 0) throw new InvalidArgumentError('peerId', 'give at least one peer id')
      const args = values.map(value => checkPeerId(value))
      const removed: string[] = []
      for await (const raw of invoker.ndjson<{ ID: string; Status: string }>('swarm/peering/rm', options, {
        args
      }))
        removed.push(raw.ID)
      return removed
    }
  }

  return {
    /** Dials peers (multiaddrs, usually ending in `/p2p/<peerId>`); throws on the first that cannot be reached. */
    connect: async (
      address: string | readonly string[],
      options: CallOptions = {}
    ): Promise<SwarmConnectionResult[]> =>
      (await strings('swarm/connect', options, checkAddresses(address, 'address'))).map(toConnectionResult),

    /** Closes connections to peers; a peer that could not be disconnected has `success: false` and Kubo's reason. */
    disconnect: async (
      address: string | readonly string[],
      options: CallOptions = {}
    ): Promise<SwarmConnectionResult[]> =>
      (await strings('swarm/disconnect', options, checkAddresses(address, 'address'))).map(
        toConnectionResult
      ),

    /** The peers with open connections, sorted by address. */
    peers: async (options: SwarmPeersOptions = {}): Promise<SwarmPeer[]> =>
      list((await invoker.json<{ Peers: RawConnection[] | null }>('swarm/peers', options)).Peers).map(
        toSwarmPeer
      ),

    addrs,
    filters,
    peering,

    /** The libp2p resource manager's limits and current usage, per scope. */
    resources: async (options: CallOptions = {}): Promise<SwarmResources> => {
      const raw = await invoker.json<RawResources>('swarm/resources', options)
      return {
        system: toLimitsAndUsage(raw.System),
        transient: toLimitsAndUsage(raw.Transient),
        services: mapScopes(raw.Services),
        protocols: mapScopes(raw.Protocols),
        peers: mapScopes(raw.Peers)
      }
    }
  }
}
