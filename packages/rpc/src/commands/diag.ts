import { InvalidArgumentError, KuboRpcError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions, Duration } from '../options.js'

/** `diag sys`: the machine and runtime the daemon runs on. */
export interface SystemDiagnostics {
  /** Kubo's version, e.g. `0.43.0`. */
  ipfsVersion: string
  /** The git commit Kubo was built from; empty for builds from the Go module. */
  ipfsCommit: string
  diskInfo: {
    /** The filesystem type of the repo's disk, as the OS reports it (a number on Linux). */
    fsType: string
    /** Bytes. */
    totalSpace: number
    /** Bytes. */
    freeSpace: number
  }
  /** `GOPATH` and `IPFS_PATH` as the daemon sees them, keyed by variable name. */
  environment: Record<string, string>
  memory: {
    /** Swap in use, bytes. */
    swap: number
    /** Memory in use, bytes (Kubo calls it `virt`). */
    virtual: number
  }
  net: {
    /** The machine's interface addresses as multiaddrs, e.g. `/ip4/127.0.0.1`. */
    interfaceAddresses: string[]
    /** Whether the node is online (has a running libp2p host). */
    online: boolean
  }
  runtime: {
    os: string
    arch: string
    compiler: string
    /** The Go version, e.g. `go1.26.1`. */
    version: string
    cpuCount: number
    /** Go's GOMAXPROCS. */
    goMaxProcs: number
    goroutineCount: number
  }
}

export interface DiagCmdsOptions extends CallOptions {
  /** Kubo's text output shows more with it; the JSON is the same. */
  verbose?: boolean
}

/** A request in the daemon's command log. */
export interface CommandLogEntry {
  id: number
  /** The command path, e.g. `swarm/peers`. */
  command: string
  args: string[]
  /** The options as Kubo received them, keyed by Kubo's option names (`encoding`, `cid-version`, …). */
  options: Record<string, unknown>
  active: boolean
  startTime: Date
  /** Absent while the command is still running. */
  endTime?: Date
}

export interface DiagProfileOptions extends CallOptions {
  /**
   * What to collect; Kubo's default is all of `goroutines-stack`, `goroutines-pprof`, `version`,
   * `heap`, `allocs`, `bin`, `cpu`, `mutex`, `block`, `trace`.
   */
  collectors?: readonly string[]
  /** How long the sampling profiles (cpu, mutex, block, trace) run; Kubo's default is 30 s; 0 skips them. */
  profileTime?: Duration
  /** Report 1/n of mutex contention events; Kubo's default is 4. */
  mutexProfileFraction?: number
  /** The sampling interval of the blocking profile; Kubo's default is 1 ms. */
  blockProfileRate?: Duration
}

interface RawSystemDiagnostics {
  ipfs_version: string
  ipfs_commit: string
  diskinfo: { fstype: string; total_space: number; free_space: number }
  environment: Record<string, string>
  memory: { swap: number; virt: number }
  net: { interface_addresses: string[] | null; online: boolean }
  runtime: {
    os: string
    arch: string
    compiler: string
    version: string
    numcpu: number
    gomaxprocs: number
    numgoroutines: number
  }
}

interface RawLogEntry {
  ID: number
  Command: string
  Args: string[] | null
  Options: Record<string, unknown> | null
  Active: boolean
  StartTime: string
  EndTime: string
}

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|μs|ms|s|m|h))+$|^0$/

/** Turns ms into a Go duration string and checks strings, so a typo fails here rather than in Kubo. */
function toGoDuration(value: Duration, argument: string): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidArgumentError(argument, `${value} is not a duration in ms`)
    return `${value}ms`
  }
  if (typeof value !== 'string' || !GO_DURATION.test(value)) {
    throw new InvalidArgumentError(
      argument,
      `"${String(value)}" is not a duration (e.g. "500ms", "30s", "1m", or a number of ms)`
    )
  }
  return value
}

/** Go's zero time, which Kubo writes for "not yet". */
function toDate(value: string): Date | undefined {
  if (value === '' || value.startsWith('0001-01-01')) return undefined
  return new Date(value)
}

/** `diag/*`: diagnostics of the daemon and the machine it runs on. */
export function createDiagCommands(invoker: Invoker) {
  const cmds = Object.assign(
    /** The commands the daemon is running and ran recently (kept for `setTime`, default 1 min). */
    async (options: DiagCmdsOptions = {}): Promise<CommandLogEntry[]> =>
      list(await invoker.json<RawLogEntry[] | null>('diag/cmds', options)).map(raw => {
        const endTime = toDate(raw.EndTime)
        return {
          id: raw.ID,
          command: raw.Command,
          args: list(raw.Args),
          options: raw.Options ?? {},
          active: raw.Active,
          startTime: new Date(raw.StartTime),
          ...(endTime == null ? {} : { endTime })
        }
      }),
    {
      /** Forgets the finished commands. */
      clear: async (options: CallOptions = {}): Promise<void> => {
        await invoker.none('diag/cmds/clear', options)
      },
      /** Sets how long finished commands stay in the log (a Go duration, or ms). */
      setTime: async (time: Duration, options: CallOptions = {}): Promise<void> => {
        await invoker.none('diag/cmds/set-time', options, { args: [toGoDuration(time, 'time')] })
      }
    }
  )

  return {
    /** The machine and runtime the daemon runs on. */
    sys: async (options: CallOptions = {}): Promise<SystemDiagnostics> => {
      const raw = await invoker.json<RawSystemDiagnostics>('diag/sys', options)
      return {
        ipfsVersion: raw.ipfs_version,
        ipfsCommit: raw.ipfs_commit,
        diskInfo: {
          fsType: raw.diskinfo.fstype,
          totalSpace: raw.diskinfo.total_space,
          freeSpace: raw.diskinfo.free_space
        },
        // Variable names are data: kept as they are.
        environment: raw.environment,
        memory: { swap: raw.memory.swap, virtual: raw.memory.virt },
        net: { interfaceAddresses: list(raw.net.interface_addresses), online: raw.net.online },
        runtime: {
          os: raw.runtime.os,
          arch: raw.runtime.arch,
          compiler: raw.runtime.compiler,
          version: raw.runtime.version,
          cpuCount: raw.runtime.numcpu,
          goMaxProcs: raw.runtime.gomaxprocs,
          goroutineCount: raw.runtime.numgoroutines
        }
      }
    },

    cmds,

    /**
     * Streams a zip archive of profiles (goroutines, heap, cpu, …) as it is written. With Kubo's
     * defaults this takes 30 s; pass a short `profileTime` and only the `collectors` you need.
     */
    profile: (options: DiagProfileOptions = {}): AsyncIterable<Uint8Array> => {
      if (options.collectors?.length === 0)
        throw new InvalidArgumentError('collectors', 'give at least one collector, or leave it out for all')
      const profileTime =
        options.profileTime == null ? undefined : toGoDuration(options.profileTime, 'profileTime')
      const blockProfileRate =
        options.blockProfileRate == null
          ? undefined
          : toGoDuration(options.blockProfileRate, 'blockProfileRate')
      return invoker.bytes('diag/profile', options, {
        options: {
          ...(options.collectors == null ? {} : { collectors: [...options.collectors] }),
          'profile-time': profileTime,
          'block-profile-rate': blockProfileRate
        }
      })
    },

    /**
     * Resolves when the daemon is operational (not shutting down, and its blockstore serves the
     * empty directory); otherwise throws KuboRpcError with Kubo's reason.
     */
    healthy: async (options: CallOptions = {}): Promise<void> => {
      const answer = await invoker.json<unknown>('diag/healthy', options)
      if (answer !== 'ok')
        throw new KuboRpcError('diag/healthy', 200, `unexpected answer: ${JSON.stringify(answer)}`)
    }
  }
}
