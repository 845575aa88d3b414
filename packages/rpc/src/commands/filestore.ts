import { KuboRpcError } from '../errors.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkPath } from '../validate.js'

/**
 * The state of a filestore block: `ok` (the file still holds its bytes), `changed` (the file's
 * bytes at that offset differ), `no-file` (the file is gone), `error` (the file could not be
 * read), `internal-error` (Kubo's `ERROR`: a corrupt entry, or an argument that is not a CID),
 * `missing` (the CID asked for is not in the filestore), `unknown` (a code this client does not know).
 */
export type FilestoreStatus =
  | 'ok'
  | 'error'
  | 'no-file'
  | 'changed'
  | 'internal-error'
  | 'missing'
  | 'unknown'

const STATUSES: Readonly<Record<number, FilestoreStatus>> = {
  0: 'ok',
  10: 'error',
  11: 'no-file',
  12: 'changed',
  20: 'internal-error',
  30: 'missing'
}

export interface FilestoreEntry {
  status: FilestoreStatus
  /** Kubo's numeric status: 0 ok, 10 error, 11 no-file, 12 changed, 20 internal error, 30 missing. */
  statusCode: number
  /** What went wrong, for any status but `ok`. */
  error?: string
  /** The block's CID; `''` when Kubo could not read the argument as a CID. */
  cid: string
  /** The backing file, relative to the filestore root (the folder that holds the repo). */
  filePath: string
  /** Where the block's bytes start in the file (bytes). */
  offset: number
  /** The block's length (bytes). */
  size: number
}

/** One entry of `filestore ls` / `filestore verify` as Kubo sends it over HTTP; the CLI transport reads its text output into the same shape. */
export interface FilestoreEntryWire {
  Status: number
  ErrorMsg: string
  Key: { '/': string } | null
  FilePath: string
  Offset: number
  Size: number
}

export interface FilestoreLsOptions extends CallOptions {
  /** Sort by backing file path (only without `cids`). */
  fileOrder?: boolean
}

export interface FilestoreVerifyOptions extends CallOptions {
  /** Check blocks in backing file order (only without `cids`). */
  fileOrder?: boolean
  /** Drop references whose file changed or disappeared. This may remove pinned data: run `pin verify` after. */
  removeBadBlocks?: boolean
}

function toEntry(raw: FilestoreEntryWire): FilestoreEntry {
  return {
    status: STATUSES[raw.Status] ?? 'unknown',
    statusCode: raw.Status,
    ...(raw.ErrorMsg === '' ? {} : { error: raw.ErrorMsg }),
    cid: raw.Key?.['/'] ?? '',
    filePath: raw.FilePath,
    offset: raw.Offset,
    size: raw.Size
  }
}

function toArgs(cids: string | readonly string[] | undefined): string[] {
  const args = cids == null ? [] : typeof cids === 'string' ? [cids] : [...cids]
  for (const cid of args) checkPath(cid, 'cids')
  return args
}

/** Lets `ls`/`verify` take the options object in place of the CIDs. */
function split<Options extends CallOptions>(
  cids: string | readonly string[] | Options | undefined,
  options: Options
): [string | readonly string[] | undefined, Options] {
  if (cids != null && typeof cids === 'object' && !Array.isArray(cids)) return [undefined, cids as Options]
  return [cids as string | readonly string[] | undefined, options]
}

/**
 * `filestore/*`: blocks Kubo reads from files where they lie (added with `nocopy`) instead of
 * copying them into its blockstore. Needs `Experimental.FilestoreEnabled: true` in Kubo's config;
 * without it every call fails with "filestore is not enabled".
 */
export function createFilestoreCommands(invoker: Invoker) {
  return {
    /**
     * Lists the filestore's blocks with their backing files, or only the given CIDs (which are then
     * verified too, so their `status` is current; a CID not in the filestore is `missing`).
     */
    ls: async function* (
      cids?: string | readonly string[] | FilestoreLsOptions,
      options: FilestoreLsOptions = {}
    ): AsyncGenerator<FilestoreEntry> {
      const [given, callOptions] = split(cids, options)
      for await (const raw of invoker.ndjson<FilestoreEntryWire>('filestore/ls', callOptions, {
        args: toArgs(given)
      }))
        yield toEntry(raw)
    },

    /** Checks that each block (or each given CID) can still be read from its backing file. */
    verify: async function* (
      cids?: string | readonly string[] | FilestoreVerifyOptions,
      options: FilestoreVerifyOptions = {}
    ): AsyncGenerator<FilestoreEntry> {
      const [given, callOptions] = split(cids, options)
      for await (const raw of invoker.ndjson<FilestoreEntryWire>('filestore/verify', callOptions, {
        args: toArgs(given)
      }))
        yield toEntry(raw)
    },

    /** The CIDs of blocks held both in the filestore and in the ordinary blockstore (stored twice). */
    dups: async function* (options: CallOptions & { cidBase?: string } = {}): AsyncGenerator<string> {
      for await (const raw of invoker.ndjson<{ Ref: string; Err: string }>('filestore/dups', options)) {
        // Kubo stops after reporting a blockstore error as a line of its own.
        if (raw.Err !== '') throw new KuboRpcError('filestore/dups', 200, raw.Err)
        yield raw.Ref
      }
    }
  }
}
