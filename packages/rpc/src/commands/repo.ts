import { InvalidArgumentError, KuboRpcError } from '../errors.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'

export interface RepoStatOptions extends CallOptions {
  /** Only measure the size (fast): `numObjects`, `repoPath` and `version` are left out. */
  sizeOnly?: boolean
}

export interface RepoStat {
  /** Bytes the repo takes on disk. */
  repoSize: number
  /** `Datastore.StorageMax` in bytes; `Infinity` when it is not set. */
  storageMax: number
  /** Blocks in the repo (not with `sizeOnly`). */
  numObjects?: number
  /** Where the repo is on the daemon's machine (not with `sizeOnly`). */
  repoPath?: string
  /** The repo format, e.g. `fs-repo@18` (not with `sizeOnly`). */
  version?: string
}

export interface RepoGcOptions extends CallOptions {
  /** Report each failure as an `error` item and carry on (Kubo then fails at the end), instead of stopping at the first. */
  streamErrors?: boolean
  /** Collect garbage without reporting what was removed (nothing is yielded). */
  silent?: boolean
}

export interface RepoGcResult {
  /** A removed block, as a CIDv1 (`raw` codec for every block: the repo keys blocks by multihash); absent on error items. */
  cid?: string
  /** With `streamErrors`: why a block could not be removed. */
  error?: string
}

export interface RepoVerifyOptions extends CallOptions {
  /** Remove corrupt blocks (destructive). */
  drop?: boolean
  /** Remove corrupt blocks and fetch them again from the network (destructive; implies `drop`; needs an online daemon). */
  heal?: boolean
  /** Per-block limit on healing: milliseconds, or a Go duration such as `30s`; default 30 s. */
  healTimeout?: number | string
}

export interface RepoVerifyProgress {
  /** Blocks checked so far; 0 on message items. */
  progress: number
  /** A corrupt block, or the final summary (`verify complete, …`); '' on progress items. */
  message: string
}

interface RawRepoStat {
  RepoSize: number
  StorageMax: number
  NumObjects: number
  RepoPath: string
  Version: string
}

// Kubo reports "no limit" as the largest uint64, which JSON.parse rounds to 2^64.
const NO_STORAGE_LIMIT = 2 ** 64

/** `repo/*`: the local block store: size, garbage collection, integrity. */
export function createRepoCommands(invoker: Invoker) {
  return {
    /** Size and contents of the repo. */
    stat: async (options: RepoStatOptions = {}): Promise<RepoStat> => {
      const raw = await invoker.json<RawRepoStat>('repo/stat', options)
      return {
        repoSize: raw.RepoSize,
        storageMax: raw.StorageMax >= NO_STORAGE_LIMIT ? Number.POSITIVE_INFINITY : raw.StorageMax,
        ...(options.sizeOnly === true
          ? {}
          : { numObjects: raw.NumObjects, repoPath: raw.RepoPath, version: raw.Version })
      }
    },

    /** Removes every block that is neither pinned nor in MFS, yielding each removed block. */
    gc: async function* (options: RepoGcOptions = {}): AsyncGenerator<RepoGcResult> {
      for await (const raw of invoker.ndjson<{ Key: { '/': string } | null; Error?: string }>(
        'repo/gc',
        options
      )) {
        yield {
          ...(raw.Key == null ? {} : { cid: raw.Key['/'] }),
          ...(raw.Error == null || raw.Error === '' ? {} : { error: raw.Error })
        }
      }
    },

    /** The repo format version this Kubo uses, e.g. 18. */
    version: async (options: CallOptions = {}): Promise<number> =>
      Number((await invoker.json<{ Version: string }>('repo/version', options)).Version),

    /**
     * Reads every block and checks it against its CID, yielding progress and one message per
     * corrupt block. Without `drop`/`heal`, Kubo fails at the end when it found corruption.
     */
    verify: async function* (options: RepoVerifyOptions = {}): AsyncGenerator<RepoVerifyProgress> {
      const healTimeout = options.healTimeout
      if (typeof healTimeout === 'number' && (!Number.isFinite(healTimeout) || healTimeout < 0)) {
        throw new InvalidArgumentError('healTimeout', `expected milliseconds >= 0, got ${healTimeout}`)
      }
      for await (const raw of invoker.ndjson<{ Msg: string; Progress: number }>('repo/verify', options, {
        omit: ['healTimeout'],
        options: { 'heal-timeout': typeof healTimeout === 'number' ? `${healTimeout}ms` : healTimeout }
      })) {
        yield { progress: raw.Progress, message: raw.Msg }
      }
    },

    /**
     * Every block in the repo, as CIDv1s with the `raw` codec whatever the block's real codec (the
     * repo keys blocks by multihash); the same as `refs local`.
     */
    ls: async function* (options: CallOptions = {}): AsyncGenerator<string> {
      for await (const raw of invoker.ndjson<{ Ref: string; Err: string }>('repo/ls', options)) {
        // Kubo never sets Err here today; if it ever does, it is an error mid-stream like any other.
        if (raw.Err != null && raw.Err !== '') throw new KuboRpcError('repo/ls', 200, raw.Err)
        yield raw.Ref
      }
    }
  }
}
