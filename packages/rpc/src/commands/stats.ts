import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions, Duration } from '../options.js'
import { checkPeerId } from '../validate.js'
import { type BitswapStat, type RawBitswapStat, toBitswapStat } from './bitswap.js'
import { toGoDuration } from './name.js'
import { type ProvideStat, type ProvideStatOptions, type RawProvideStat, toProvideStat } from './provide.js'

/** Which routing table `stats.dht` lists: the client tables `wan`/`lan`, or the server tables `wanserver`/`lanserver`. */
export type DhtTableName = 'wan' | 'lan' | 'wanserver' | 'lanserver'

export interface DhtPeerStat {
  id: string
  /** Whether the node has a connection to the peer now. */
  connected: boolean
  agentVersion: string
  /** When the peer last helped a query; absent if never. */
  lastUsefulAt?: Date
  /** When a query to the peer last succeeded; absent if never. */
  lastQueriedAt?: Date
}

export interface DhtBucketStat {
  /** When the bucket was last refreshed; absent if never. */
  lastRefresh?: Date
  peers: DhtPeerStat[]
}

/** One routing table, its buckets in order of common prefix length with this node's id. */
export interface DhtStat {
  name: string
  buckets: DhtBucketStat[]
}

export interface BandwidthOptions extends CallOptions {
  /** Only traffic with this peer. */
  peer?: string
  /** Only traffic of this protocol, e.g. `/ipfs/bitswap/1.2.0` (not together with `peer`). */
  protocol?: string
}

export interface BandwidthPollOptions extends BandwidthOptions {
  /** Yield a reading every `interval` until the iteration stops or the call is aborted. */
  poll: true
  /** Time between readings; default 1s. */
  interval?: Duration
}

export interface Bandwidth {
  /** Bytes received since the node started. */
  totalIn: number
  /** Bytes sent since the node started. */
  totalOut: number
  /** Bytes per second received, recently. */
  rateIn: number
  /** Bytes per second sent, recently. */
  rateOut: number
}

export interface RepositoryStatOptions extends CallOptions {
  /** Only `repoSize` and `storageMax` (faster: the objects are not counted). */
  sizeOnly?: boolean
}

export interface RepositoryStat {
  /** Bytes the repo takes on disk. */
  repoSize: number
  /** The configured `Datastore.StorageMax` in bytes; `Infinity` when there is no limit. */
  storageMax: number
  /** Blocks in the repo (Kubo's `NumObjects`); 0 with `sizeOnly`. */
  objectCount: number
  /** Empty with `sizeOnly`. */
  repoPath: string
  /** e.g. `fs-repo@18`; empty with `sizeOnly`. */
  version: string
}

interface RawDhtStat {
  Name: string
  Buckets: Array<{
    LastRefresh: string
    Peers: Array<{
      ID: string
      Connected: boolean
      AgentVersion: string
      LastUsefulAt: string
      LastQueriedAt: string
    }> | null
  }> | null
}

interface RawBandwidth {
  TotalIn: number
  TotalOut: number
  RateIn: number
  RateOut: number
}

const DHT_TABLES: ReadonlySet<string> = new Set<DhtTableName>(['wan', 'lan', 'wanserver', 'lanserver'])

/** Kubo writes 2^64-1 for "no limit", which JSON numbers cannot hold exactly. */
const NO_LIMIT = 2 ** 64 - 1

function optionalDate<K extends string>(name: K, value: string): { [P in K]?: Date } {
  return (value === '' ? {} : { [name]: new Date(value) }) as { [P in K]?: Date }
}

function toDhtStat(raw: RawDhtStat): DhtStat {
  return {
    name: raw.Name,
    buckets: list(raw.Buckets).map(bucket => ({
      ...optionalDate('lastRefresh', bucket.LastRefresh),
      peers: list(bucket.Peers).map(peer => ({
        id: peer.ID,
        connected: peer.Connected,
        agentVersion: peer.AgentVersion,
        ...optionalDate('lastUsefulAt', peer.LastUsefulAt),
        ...optionalDate('lastQueriedAt', peer.LastQueriedAt)
      }))
    }))
  }
}

const toBandwidth = (raw: RawBandwidth): Bandwidth => ({
  totalIn: raw.TotalIn,
  totalOut: raw.TotalOut,
  rateIn: raw.RateIn,
  rateOut: raw.RateOut
})

/** `stats/*`: the node's statistics (several are aliases of other commands). */
export function createStatsCommands(invoker: Invoker) {
  function bandwidthRequest(options: BandwidthOptions & { interval?: Duration }) {
    if (options.peer != null) checkPeerId(options.peer, 'peer')
    if (options.peer != null && options.protocol != null) {
      throw new InvalidArgumentError('protocol', 'Kubo takes a peer or a protocol, not both')
    }
    return {
      rename: { protocol: 'proto' },
      omit: ['interval'],
      options: { interval: toGoDuration(options.interval, 'interval') }
    }
  }

  /**
   * Bandwidth totals and rates, overall or for one peer or protocol. Kubo updates its meters about
   * once a second, so traffic shows up with that delay. With `poll: true`, yields a reading every
   * `interval` for as long as it is iterated.
   */
  function bw(options: BandwidthPollOptions): AsyncGenerator<Bandwidth>
  function bw(options?: BandwidthOptions): Promise<Bandwidth>
  function bw(
    options: BandwidthOptions | BandwidthPollOptions = {}
  ): AsyncGenerator<Bandwidth> | Promise<Bandwidth> {
    if ((options as Partial<BandwidthPollOptions>).poll === true) {
      // Built (and so validated) now, although the stream sends nothing until iterated.
      const request = bandwidthRequest(options)
      return (async function* () {
        for await (const raw of invoker.ndjson<RawBandwidth>('stats/bw', options, {
          ...request,
          longLived: true
        }))
          yield toBandwidth(raw)
      })()
    }
    return (async () =>
      toBandwidth(await invoker.json<RawBandwidth>('stats/bw', options, bandwidthRequest(options))))()
  }

  return {
    /** The same as `bitswap.stat`. */
    bitswap: async (options: CallOptions = {}): Promise<BitswapStat> =>
      toBitswapStat(await invoker.json<RawBitswapStat>('stats/bitswap', options)),

    /** The DHT routing tables (`wan` and `lan` unless named), one result per table. */
    dht: (
      tables?: DhtTableName | readonly DhtTableName[],
      options: CallOptions = {}
    ): AsyncGenerator<DhtStat> => {
      const names = tables == null ? [] : typeof tables === 'string' ? [tables] : [...tables]
      for (const name of names) {
        if (!DHT_TABLES.has(name))
          throw new InvalidArgumentError(
            'tables',
            `"${name}" is not a DHT table (wan, lan, wanserver, lanserver)`
          )
      }
      return (async function* () {
        for await (const raw of invoker.ndjson<RawDhtStat>('stats/dht', options, { args: names }))
          yield toDhtStat(raw)
      })()
    },

    /**
     * The same as `provide.stat`.
     * @deprecated Use `provide.stat`.
     */
    provide: async (options: ProvideStatOptions = {}): Promise<ProvideStat> =>
      toProvideStat(await invoker.json<RawProvideStat>('stats/provide', options)),

    /**
     * The same as `provide.stat`.
     * @deprecated Use `provide.stat`.
     */
    reprovide: async (options: ProvideStatOptions = {}): Promise<ProvideStat> =>
      toProvideStat(await invoker.json<RawProvideStat>('stats/reprovide', options)),

    bw,

    /** The repo's size, limit and object count (the same as `repo stat`). */
    repo: async (options: RepositoryStatOptions = {}): Promise<RepositoryStat> => {
      const raw = await invoker.json<{
        RepoSize: number
        StorageMax: number
        NumObjects: number
        RepoPath: string
        Version: string
      }>('stats/repo', options)
      return {
        repoSize: raw.RepoSize,
        storageMax: raw.StorageMax >= NO_LIMIT ? Number.POSITIVE_INFINITY : raw.StorageMax,
        objectCount: raw.NumObjects,
        repoPath: raw.RepoPath,
        version: raw.Version
      }
    }
  }
}
