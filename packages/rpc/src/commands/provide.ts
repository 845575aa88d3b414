import { InvalidArgumentError } from '../errors.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkCid } from '../validate.js'

export interface ProvideOnceOptions extends CallOptions {
  /** Also announce every block reachable from each CID. */
  recursive?: boolean
}

export interface ProvideStatOptions extends CallOptions {
  /** The LAN DHT's sweep provider instead of the WAN one (sweep provider with the dual DHT only). */
  lan?: boolean
  // The section flags below only choose what Kubo's text output shows; the result here always has
  // every section. They are accepted so that calls written from the CLI's flags still type-check.
  /** Every section (text output only). */
  all?: boolean
  /** Two-column text layout, with `all` (text output only). */
  compact?: boolean
  /** The connectivity section (text output only). */
  connectivity?: boolean
  /** The network section (text output only). */
  network?: boolean
  /** The schedule section (text output only). */
  schedule?: boolean
  /** The timings section (text output only). */
  timings?: boolean
  /** The workers section (text output only). */
  workers?: boolean
  /** The operations section (text output only). */
  operations?: boolean
  /** The queues section (text output only). */
  queues?: boolean
}

/** Statistics of the sweep provider (Kubo's default): it announces CIDs region by region of the DHT keyspace. */
export interface SweepProvideStat {
  type: 'sweep'
  /** The provider has shut down. */
  closed: boolean
  connectivity: {
    /** `online`, `offline` or `disconnected`, as the DHT sees it. */
    status: string
    /** Since when; absent if never set. */
    since?: Date
  }
  queues: {
    /** CIDs waiting to be announced for the first time. */
    pendingKeyProvides: number
    pendingRegionProvides: number
    pendingRegionReprovides: number
  }
  schedule: {
    /** CIDs on the reprovide schedule. */
    keys: number
    /** Keyspace regions on the schedule. */
    regions: number
    /** -1 before anything is scheduled. */
    averagePrefixLength: number
    nextReprovideAt?: Date
    /** The next region's keyspace prefix as a bit string; empty when none. */
    nextReprovidePrefix: string
  }
  workers: {
    max: number
    active: number
    activePeriodic: number
    activeBurst: number
    dedicatedPeriodic: number
    dedicatedBurst: number
    queuedPeriodic: number
    queuedBurst: number
    maxProvideConnectionsPerWorker: number
  }
  timing: {
    /** How long the provider has run (ms). */
    uptime: number
    /** How often every CID is reprovided (ms). */
    reprovidesInterval: number
    cycleStart?: Date
    /** Position in the current reprovide cycle (ms). */
    currentTimeOffset: number
    /** (ms) */
    maxReprovideDelay: number
  }
  operations: {
    ongoing: { regionProvides: number; keyProvides: number; regionReprovides: number; keyReprovides: number }
    past: {
      /** Provider records sent. */
      recordsProvided: number
      /** CIDs announced successfully. */
      keysProvided: number
      keysFailed: number
      keysProvidedPerMinute: number
      keysReprovidedPerMinute: number
      /** Average time to reprovide one region (ms). */
      regionReprovideDuration: number
      averageKeysPerReprovide: number
      regionsReprovidedLastCycle: number
    }
  }
  network: {
    /** Peers contacted. */
    peers: number
    /** Of those, the ones that answered. */
    reachable: number
    completeKeyspaceCoverage: boolean
    averageRegionSize: number
    /** Average number of peers holding each provider record. */
    averageHolders: number
    replicationFactor: number
  }
}

/** Statistics of the legacy provider (`Provide.DHT.SweepEnabled=false`). */
export interface LegacyProvideStat {
  type: 'legacy'
  /** CIDs reprovided since the node started, over all cycles. */
  totalReprovides: number
  /** CIDs in the last reprovide cycle. */
  lastReprovideBatchSize: number
  /** (ms) */
  reprovideInterval: number
  /** (ms) */
  averageReprovideDuration: number
  /** (ms) */
  lastReprovideDuration: number
  /** Absent before the first cycle. */
  lastRun?: Date
  /** Whether the accelerated DHT client (full routing table) is in use. */
  fullRoutingTable: boolean
}

export type ProvideStat = SweepProvideStat | LegacyProvideStat

interface RawSweepStat {
  closed: boolean
  connectivity: { status: string; since: string }
  queues: { pending_key_provides: number; pending_region_provides: number; pending_region_reprovides: number }
  schedule: {
    keys: number
    regions: number
    avg_prefix_length: number
    next_reprovide_at: string
    next_reprovide_prefix: string
  }
  workers: {
    max: number
    active: number
    active_periodic: number
    active_burst: number
    dedicated_periodic: number
    dedicated_burst: number
    queued_periodic: number
    queued_burst: number
    max_provide_conns_per_worker: number
  }
  timing: {
    uptime: number
    reprovides_interval: number
    cycle_start: string
    current_time_offset: number
    max_reprovide_delay: number
  }
  operations: {
    ongoing: {
      region_provides: number
      key_provides: number
      region_reprovides: number
      key_reprovides: number
    }
    past: {
      records_provided: number
      keys_provided: number
      keys_failed: number
      keys_provided_per_minute: number
      keys_reprovided_per_minute: number
      reprovide_duration: number
      avg_keys_per_reprovide: number
      regions_reprovided_last_cycle: number
    }
  }
  network: {
    peers: number
    reachable: number
    complete_keyspace_coverage: boolean
    avg_region_size: number
    avg_holders: number
    replication_factor: number
  }
}

interface RawLegacyStat {
  TotalReprovides: number
  LastReprovideBatchSize: number
  ReprovideInterval: number
  AvgReprovideDuration: number
  LastReprovideDuration: number
  LastRun: string
}

/** Kubo's JSON for `provide stat` (and its deprecated aliases `stats provide` / `stats reprovide`). */
export interface RawProvideStat {
  Sweep: RawSweepStat | null
  Legacy: RawLegacyStat | null
  FullRT: boolean
}

const NANOSECONDS_PER_MILLISECOND = 1e6

/** Go's zero time (`0001-01-01T00:00:00Z`) means "never". */
function optionalDate(value: string | undefined | null): Date | undefined {
  if (value == null || value === '' || value.startsWith('0001-01-01')) return undefined
  return new Date(value)
}

const milliseconds = (nanoseconds: number): number => nanoseconds / NANOSECONDS_PER_MILLISECOND

function withDate<K extends string>(name: K, value: string | undefined | null): { [P in K]?: Date } {
  const date = optionalDate(value)
  return (date == null ? {} : { [name]: date }) as { [P in K]?: Date }
}

/** Maps Kubo's provider statistics to a {@link ProvideStat}. */
export function toProvideStat(raw: RawProvideStat): ProvideStat {
  if (raw.Legacy != null) {
    const legacy = raw.Legacy
    return {
      type: 'legacy',
      totalReprovides: legacy.TotalReprovides,
      lastReprovideBatchSize: legacy.LastReprovideBatchSize,
      reprovideInterval: milliseconds(legacy.ReprovideInterval),
      averageReprovideDuration: milliseconds(legacy.AvgReprovideDuration),
      lastReprovideDuration: milliseconds(legacy.LastReprovideDuration),
      ...withDate('lastRun', legacy.LastRun),
      fullRoutingTable: raw.FullRT
    }
  }
  const sweep = raw.Sweep
  if (sweep == null) throw new Error('Kubo returned provide stats with neither a sweep nor a legacy section')
  const { ongoing, past } = sweep.operations
  return {
    type: 'sweep',
    closed: sweep.closed,
    connectivity: { status: sweep.connectivity.status, ...withDate('since', sweep.connectivity.since) },
    queues: {
      pendingKeyProvides: sweep.queues.pending_key_provides,
      pendingRegionProvides: sweep.queues.pending_region_provides,
      pendingRegionReprovides: sweep.queues.pending_region_reprovides
    },
    schedule: {
      keys: sweep.schedule.keys,
      regions: sweep.schedule.regions,
      averagePrefixLength: sweep.schedule.avg_prefix_length,
      ...withDate('nextReprovideAt', sweep.schedule.next_reprovide_at),
      nextReprovidePrefix: sweep.schedule.next_reprovide_prefix
    },
    workers: {
      max: sweep.workers.max,
      active: sweep.workers.active,
      activePeriodic: sweep.workers.active_periodic,
      activeBurst: sweep.workers.active_burst,
      dedicatedPeriodic: sweep.workers.dedicated_periodic,
      dedicatedBurst: sweep.workers.dedicated_burst,
      queuedPeriodic: sweep.workers.queued_periodic,
      queuedBurst: sweep.workers.queued_burst,
      maxProvideConnectionsPerWorker: sweep.workers.max_provide_conns_per_worker
    },
    timing: {
      uptime: milliseconds(sweep.timing.uptime),
      reprovidesInterval: milliseconds(sweep.timing.reprovides_interval),
      ...withDate('cycleStart', sweep.timing.cycle_start),
      currentTimeOffset: milliseconds(sweep.timing.current_time_offset),
      maxReprovideDelay: milliseconds(sweep.timing.max_reprovide_delay)
    },
    operations: {
      ongoing: {
        regionProvides: ongoing.region_provides,
        keyProvides: ongoing.key_provides,
        regionReprovides: ongoing.region_reprovides,
        keyReprovides: ongoing.key_reprovides
      },
      past: {
        recordsProvided: past.records_provided,
        keysProvided: past.keys_provided,
        keysFailed: past.keys_failed,
        keysProvidedPerMinute: past.keys_provided_per_minute,
        keysReprovidedPerMinute: past.keys_reprovided_per_minute,
        regionReprovideDuration: milliseconds(past.reprovide_duration),
        averageKeysPerReprovide: past.avg_keys_per_reprovide,
        regionsReprovidedLastCycle: past.regions_reprovided_last_cycle
      }
    },
    network: {
      peers: sweep.network.peers,
      reachable: sweep.network.reachable,
      completeKeyspaceCoverage: sweep.network.complete_keyspace_coverage,
      averageRegionSize: sweep.network.avg_region_size,
      averageHolders: sweep.network.avg_holders,
      replicationFactor: sweep.network.replication_factor
    }
  }
}

/** `provide/*`: announcing content to the routing system (experimental in Kubo). */
export function createProvideCommands(invoker: Invoker) {
  return {
    /** Empties the queue of CIDs waiting for their first announcement; resolves with how many were removed. */
    clear: async (options: CallOptions = {}): Promise<number> =>
      // Kubo answers with nothing when the node has no provider at all.
      (await invoker.json<number | undefined>('provide/clear', options)) ?? 0,

    /**
     * Queues CIDs (which must be stored locally) for an announcement now, outside the reprovide
     * schedule, and yields each CID as it is queued. Nothing is sent until the result is iterated.
     */
    once: (cids: string | readonly string[], options: ProvideOnceOptions = {}): AsyncGenerator<string> => {
      const all = typeof cids === 'string' ? [cids] : [...cids]
      if (all.length === 0) throw new InvalidArgumentError('cids', 'name at least one CID to provide')
      for (const cid of all) checkCid(cid, 'cids')
      return (async function* () {
        for await (const raw of invoker.ndjson<{ Queued: string }>('provide/once', options, { args: all }))
          yield raw.Queued
      })()
    },

    /** The provider's statistics: the sweep provider's (default) or the legacy one's. */
    stat: async (options: ProvideStatOptions = {}): Promise<ProvideStat> =>
      toProvideStat(await invoker.json<RawProvideStat>('provide/stat', options))
  }
}
