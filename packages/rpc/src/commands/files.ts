import { type AddContent, entriesFromInput } from '../add-source.js'
import { InvalidArgumentError, KuboRpcError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkPath } from '../validate.js'

/** The `flush` option Kubo puts on the `files` parent; it applies to the commands that change MFS. */
export interface FilesFlushOptions extends CallOptions {
  /**
   * Write the change through to the MFS root; default true. With false, changes stay in memory
   * until `files.flush()`, and Kubo refuses further unflushed changes after
   * `Internal.MFSNoFlushLimit` of them.
   */
  flush?: boolean
}

/** How new nodes are encoded. */
export interface FilesCidOptions {
  /** 0 or 1; defaults to the parent directory's (or `Import.CidVersion`). */
  cidVersion?: 0 | 1
  /** Hash function, e.g. `sha2-256`, `blake3`; implies CID version 1. */
  hash?: string
}

export interface FilesCpOptions extends FilesFlushOptions {
  /** Replace an existing file at `dest`. */
  force?: boolean
  /** Create missing parent directories of `dest`. */
  parents?: boolean
}

export interface FilesLsOptions extends CallOptions {
  /** Include each entry's type, size and CID. */
  long?: boolean
  /**
   * Keep the directory's own order instead of sorting by name. Kubo's JSON output is never sorted
   * (its `-U` only affects the CLI's text), so this client sorts unless `unsorted` is true.
   */
  unsorted?: boolean
}

export interface FilesLsEntry {
  name: string
  /** Only with `long`. */
  type?: 'file' | 'directory'
  /** Content size in bytes; only with `long` (0 for directories). */
  size?: number
  /** Only with `long`. */
  cid?: string
}

export interface FilesRmOptions extends CallOptions {
  /** Remove directories and their content. */
  recursive?: boolean
  /** Remove whatever is at the path (implies `recursive`), and do not fail when nothing is there. */
  force?: boolean
}

export interface FilesTouchOptions extends CallOptions {
  /** The modification time to set: a Date, or seconds since the Unix epoch; default now (0 also means now). */
  mtime?: Date | number
  /** Nanoseconds added to `mtime` when it is given in seconds. */
  mtimeNsecs?: number
}

export interface FilesWriteOptions extends FilesFlushOptions, FilesCidOptions {
  /** Byte offset in the file to start writing at; default 0. */
  offset?: number
  /** Create the file if it does not exist. */
  create?: boolean
  /** Create missing parent directories (with `create`). */
  parents?: boolean
  /** Truncate the file to 0 bytes before writing. */
  truncate?: boolean
  /** Write at most this many bytes of the content. */
  count?: number
  /** Store new leaves as raw blocks (default: raw with CID version 1, or per `Import.UnixFSRawLeaves`). */
  rawLeaves?: boolean
}

export interface FilesMkdirOptions extends FilesFlushOptions, FilesCidOptions {
  /** Create missing parents, and do not fail when the directory exists. */
  parents?: boolean
}

export interface FilesStatOptions extends CallOptions {
  /** Also compute how much of the DAG is in the local blockstore (`local`, `sizeLocal`). */
  withLocal?: boolean
}

export interface FilesStat {
  cid: string
  /** Content size in bytes (0 for directories). */
  size: number
  /** Bytes of the node and every block below it. */
  cumulativeSize: number
  /** Number of direct child blocks. */
  blocks: number
  /** Symlinks and raw blocks are reported as `file`. */
  type: 'file' | 'directory'
  /** POSIX permission bits (e.g. `0o644`), when the node stores a mode. */
  mode?: number
  /** Modification time, when the node stores one. */
  mtime?: Date
  /** With `withLocal`: whether the whole DAG is in the local blockstore. */
  local?: boolean
  /** With `withLocal`: bytes of the DAG that are in the local blockstore. */
  sizeLocal?: number
}

export interface FilesChcidOptions extends FilesFlushOptions, FilesCidOptions {}

export interface FilesReadOptions extends CallOptions {
  /** Byte offset to start reading at. */
  offset?: number
  /** Read at most this many bytes. */
  count?: number
}

interface RawStat {
  Hash: string
  Size: number
  CumulativeSize: number
  Blocks: number
  Type: 'file' | 'directory'
  WithLocality?: boolean
  Local?: boolean
  SizeLocal?: number
  Mode?: string
  Mtime?: number
  MtimeNsecs?: number
}

interface RawLsEntry {
  Name: string
  Type: number
  Size: number
  Hash: string
}

// Kubo's numbers for the kinds of MFS node (boxo/mfs NodeType).
const MFS_DIRECTORY = 1

// Go's os.FileMode keeps setuid/setgid/sticky and the file type in high bits; Kubo prints it as is.
const GO_MODE_SETUID = 2 ** 23
const GO_MODE_SETGID = 2 ** 22
const GO_MODE_STICKY = 2 ** 20

/** Go's os.FileMode (as Kubo prints it, in octal) → POSIX mode bits. */
function posixMode(goModeOctal: string): number {
  const goMode = Number.parseInt(goModeOctal, 8)
  let mode = goMode % 0o1000
  if (Math.floor(goMode / GO_MODE_SETUID) % 2 === 1) mode |= 0o4000
  if (Math.floor(goMode / GO_MODE_SETGID) % 2 === 1) mode |= 0o2000
  if (Math.floor(goMode / GO_MODE_STICKY) % 2 === 1) mode |= 0o1000
  return mode
}

/** Throws unless `value` is an absolute MFS path. Returns it unchanged. */
function checkMfsPath(value: string, argument = 'path'): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError(argument, 'expected an MFS path such as /docs/a.txt, got nothing')
  if (!value.startsWith('/'))
    throw new InvalidArgumentError(argument, `"${value}" is not an MFS path: MFS paths start with "/"`)
  return value
}

/** An MFS path, or content Kubo resolves: `/ipfs/<cid>…`, `/ipns/<name>…`, `ipfs://…`, `ipns://…`. */
function checkMfsOrContentPath(value: string, argument = 'path'): string {
  if (typeof value === 'string' && /^\/(ipfs|ipld|ipns)\//.test(value)) return checkPath(value, argument)
  if (typeof value === 'string' && /^(ipfs|ipns):\/\/./.test(value)) return value
  return checkMfsPath(value, argument)
}

function checkByteCount(value: number | undefined, argument: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value < 0)) {
    throw new InvalidArgumentError(argument, `expected a whole number of bytes >= 0, got ${value}`)
  }
}

function toFilesStat(raw: RawStat): FilesStat {
  return {
    cid: raw.Hash,
    size: raw.Size,
    cumulativeSize: raw.CumulativeSize,
    blocks: raw.Blocks,
    type: raw.Type,
    ...(raw.Mode == null || raw.Mode === '' ? {} : { mode: posixMode(raw.Mode) }),
    ...(raw.Mtime == null || raw.Mtime === 0
      ? {}
      : { mtime: new Date(raw.Mtime * 1000 + Math.floor((raw.MtimeNsecs ?? 0) / 1e6)) }),
    ...(raw.WithLocality === true ? { local: raw.Local === true, sizeLocal: raw.SizeLocal ?? 0 } : {})
  }
}

/** `files/*`: the Mutable File System (MFS), a local, writable Unix-like tree over IPFS content. */
export function createFilesCommands(invoker: Invoker) {
  return {
    /** Copies `source` (an MFS path or `/ipfs/<cid>`, lazily: only the root block is fetched) to `dest` in MFS. */
    cp: async (source: string, dest: string, options: FilesCpOptions = {}): Promise<void> => {
      await invoker.none('files/cp', options, {
        args: [checkMfsOrContentPath(source, 'source'), checkMfsPath(dest, 'dest')]
      })
    },

    /** Lists a directory (default `/`); for a file, lists the file itself. */
    ls: async (path?: string | FilesLsOptions, options: FilesLsOptions = {}): Promise<FilesLsEntry[]> => {
      if (typeof path === 'object') return await createFilesCommands(invoker).ls(undefined, path)
      const raw = await invoker.json<{ Entries: RawLsEntry[] | null }>('files/ls', options, {
        args: path == null ? [] : [checkMfsPath(path)],
        rename: { unsorted: 'U' }
      })
      const entries = list(raw.Entries).map(
        (entry): FilesLsEntry =>
          options.long === true
            ? {
                name: entry.Name,
                type: entry.Type === MFS_DIRECTORY ? 'directory' : 'file',
                size: entry.Size,
                cid: entry.Hash
              }
            : { name: entry.Name }
      )
      if (options.unsorted !== true) entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      return entries
    },

    /**
     * Removes files or directories (directories need `recursive` or `force`). When some paths
     * cannot be removed, the error names each of them; the others are still removed.
     */
    rm: async (path: string | readonly string[], options: FilesRmOptions = {}): Promise<void> => {
      const paths = typeof path === 'string' ? [path] : [...path]
      if (paths.length === 0) throw new InvalidArgumentError('path', 'expected at least one MFS path')
      for (const item of paths) checkMfsPath(item)
      // Kubo writes one line per path it could not remove, then fails with only "can't remove some files".
      const problems: string[] = []
      try {
        for await (const line of invoker.ndjson<string>('files/rm', options, { args: paths }))
          problems.push(line)
      } catch (error) {
        if ((error as Error).name === 'KuboRpcError' && problems.length > 0) {
          const kuboError = error as KuboRpcError
          throw new KuboRpcError(
            kuboError.command,
            kuboError.status,
            `${kuboError.kuboMessage}: ${problems.join('; ')}`,
            kuboError.code,
            {
              cause: error
            }
          )
        }
        throw error
      }
    },

    /**
     * Sets the POSIX permission bits of a file or directory: `0o644`, or octal text such as `'0644'`.
     * Kubo keeps only the `0o777` bits here (setuid, setgid and sticky are dropped).
     */
    chmod: async (mode: number | string, path: string, options: CallOptions = {}): Promise<void> => {
      let octal: string
      if (typeof mode === 'number') {
        if (!Number.isSafeInteger(mode) || mode < 0 || mode > 0o7777)
          throw new InvalidArgumentError('mode', `expected a mode from 0 to 0o7777, got ${mode}`)
        octal = mode.toString(8)
      } else if (typeof mode === 'string' && /^[0-7]{1,4}$/.test(mode)) {
        octal = mode
      } else {
        throw new InvalidArgumentError('mode', `"${String(mode)}" is not an octal mode such as 0644`)
      }
      await invoker.none('files/chmod', options, { args: [octal, checkMfsPath(path)] })
    },

    /** Sets the modification time of an existing file or directory (default now); does not create files. */
    touch: async (path: string, options: FilesTouchOptions = {}): Promise<void> => {
      let seconds: number | undefined
      let nanoseconds = options.mtimeNsecs
      if (options.mtime instanceof Date) {
        const ms = options.mtime.getTime()
        if (Number.isNaN(ms)) throw new InvalidArgumentError('mtime', 'the Date is invalid')
        seconds = Math.floor(ms / 1000)
        nanoseconds ??= (ms - seconds * 1000) * 1e6
      } else if (options.mtime != null) {
        if (!Number.isSafeInteger(options.mtime))
          throw new InvalidArgumentError('mtime', `expected whole seconds, got ${options.mtime}`)
        seconds = options.mtime
      }
      await invoker.none('files/touch', options, {
        args: [checkMfsPath(path)],
        omit: ['mtime', 'mtimeNsecs'],
        options: { mtime: seconds, 'mtime-nsecs': seconds == null ? undefined : nanoseconds }
      })
    },

    /**
     * Writes bytes, a string or a stream into a file at `offset` (default 0), overwriting what is
     * there and growing the file as needed; `create` makes the file, `truncate` empties it first.
     */
    write: async (path: string, content: AddContent, options: FilesWriteOptions = {}): Promise<void> => {
      if (content == null || (typeof content !== 'string' && typeof content !== 'object')) {
        throw new InvalidArgumentError('content', 'expected bytes, a string or a stream of Uint8Array chunks')
      }
      checkByteCount(options.offset, 'offset')
      checkByteCount(options.count, 'count')
      await invoker.none('files/write', options, {
        args: [checkMfsPath(path)],
        body: entriesFromInput(content)
      })
    },

    /** Moves or renames a file or directory within MFS. */
    mv: async (source: string, dest: string, options: FilesFlushOptions = {}): Promise<void> => {
      await invoker.none('files/mv', options, {
        args: [checkMfsPath(source, 'source'), checkMfsPath(dest, 'dest')]
      })
    },

    /** Creates a directory (and its parents with `parents`). */
    mkdir: async (path: string, options: FilesMkdirOptions = {}): Promise<void> => {
      await invoker.none('files/mkdir', options, { args: [checkMfsPath(path)] })
    },

    /** Describes a file or directory: its CID, sizes, type, mode and mtime; `path` may also be `/ipfs/<cid>`. */
    stat: async (path: string, options: FilesStatOptions = {}): Promise<FilesStat> =>
      toFilesStat(
        await invoker.json<RawStat>('files/stat', options, { args: [checkMfsOrContentPath(path)] })
      ),

    /** Writes pending changes under `path` (default `/`) through to the MFS root; resolves with the CID of `path`. */
    flush: async (path?: string | CallOptions, options: CallOptions = {}): Promise<string> => {
      if (typeof path === 'object') return await createFilesCommands(invoker).flush(undefined, path)
      const raw = await invoker.json<{ Cid: string }>('files/flush', options, {
        args: path == null ? [] : [checkMfsPath(path)]
      })
      return raw.Cid
    },

    /** Changes the CID version or hash function of a directory (not `/`: that follows `Import.CidVersion`). */
    chcid: async (path: string, options: FilesChcidOptions = {}): Promise<void> => {
      await invoker.none('files/chcid', options, { args: [checkMfsPath(path)] })
    },

    /** Streams a file's bytes, from `offset`, at most `count` bytes. */
    read: (path: string, options: FilesReadOptions = {}): AsyncIterable<Uint8Array> => {
      checkMfsPath(path)
      checkByteCount(options.offset, 'offset')
      checkByteCount(options.count, 'count')
      return invoker.bytes('files/read', options, { args: [path] })
    }
  }
}
