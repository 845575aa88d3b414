import { type AddInput, entriesFromInput, entriesFromPaths, type PathEntriesOptions } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkPath, checkPeerId } from '../validate.js'

export interface AddOptions extends CallOptions {
  /** Pin what is added; default true. */
  pin?: boolean
  /** Wrap the input in a directory, so names are kept. */
  wrapWithDirectory?: boolean
  /** 0 or 1; Kubo's default is 0 unless raw leaves or another hash ask for 1. */
  cidVersion?: 0 | 1
  /** Store file content as raw blocks. */
  rawLeaves?: boolean
  /** e.g. `size-262144`, `rabin-262144-524288-1048576`, `buzhash`. */
  chunker?: string
  /** Hash function, e.g. `sha2-256`, `blake3`. */
  hash?: string
  /** Compute the CID without storing anything. */
  onlyHash?: boolean
  trickle?: boolean
  /** Inline small blocks into their CIDs. */
  inline?: boolean
  inlineLimit?: number
  /** Add to the filestore instead of copying (experimental in Kubo). */
  nocopy?: boolean
  fscache?: boolean
  /** Also copy the result into MFS at this path. */
  toFiles?: string
  /** Called as bytes are sent: total bytes of the file so far, and its name. */
  onProgress?: (bytes: number, name: string) => void
}

export interface AddPathOptions extends AddOptions, PathEntriesOptions {}

export interface AddResult {
  /** The file or directory name within what was added (the CID itself for an unnamed blob). */
  name: string
  cid: string
  /** Size in bytes of the DAG node, as Kubo reports it (bigger than the content for large files). */
  size: number
  mode?: number
  mtime?: Date
}

interface RawAddEntry {
  Name: string
  Hash?: string
  Size?: string
  Bytes?: number
  Mode?: string
  Mtime?: number
  MtimeNsecs?: number
}

export interface CatOptions extends CallOptions {
  /** Byte offset to start at. */
  offset?: number
  /** Number of bytes to read. */
  length?: number
}

export interface GetOptions extends CallOptions {
  /** Output a TAR archive; Kubo always streams TAR over HTTP, so this only matters with `compress`. */
  archive?: boolean
  /** gzip the output. */
  compress?: boolean
  /** 1–9. */
  compressionLevel?: number
}

export interface LsOptions extends CallOptions {
  /** Resolve each link's type (file/directory), default true. */
  resolveType?: boolean
  /** Resolve each link's size, default true. */
  size?: boolean
  /** Also report each entry's mode and modification time. */
  long?: boolean
}

export interface LsLink {
  name: string
  cid: string
  size: number
  /** 0 raw, 1 directory, 2 file, 3 metadata, 4 symlink, 5 HAMT shard (UnixFS types). */
  type: number
  target?: string
  /** POSIX permission bits, with `long`, when the entry records them (added with `preserveMode`). */
  mode?: number
  /** Modification time, with `long`, when the entry records it (added with `preserveMtime`). */
  mtime?: Date
}

export interface LsObject {
  /** The path listed. */
  path: string
  links: LsLink[]
}

export interface IdOptions extends CallOptions {
  /** `<id>`, `<aver>`, `<pubkey>`, `<addrs>`, `<protocols>` placeholders. */
  format?: string
  peeridBase?: string
}

export interface PeerInfo {
  id: string
  publicKey: string
  addresses: string[]
  agentVersion: string
  protocols: string[]
}

export interface VersionInfo {
  version: string
  commit: string
  repo: string
  system: string
  golang: string
}

export interface VersionDependency {
  path: string
  version: string
  replacedBy: string
  sum: string
}

export interface PingOptions extends CallOptions {
  /** Number of pings; default 10. */
  count?: number
}

export interface PingReply {
  success: boolean
  /** Round-trip time in ms (0 on the status lines). */
  time: number
  text: string
}

export interface ResolveOptions extends CallOptions {
  recursive?: boolean
  dhtRecordCount?: number
  dhtTimeout?: string
}

export interface RefsOptions extends CallOptions {
  /** e.g. `<src> -> <dst>`. */
  format?: string
  edges?: boolean
  unique?: boolean
  recursive?: boolean
  maxDepth?: number
}

export interface Ref {
  ref: string
  error: string
}

export interface MountOptions extends CallOptions {
  /** Where to mount /ipfs; default the config's `Mounts.IPFS`. */
  ipfsPath?: string
  ipnsPath?: string
  mfsPath?: string
}

export interface MountResult {
  ipfs: string
  ipns: string
  mfs: string
  fuseAllowOther: boolean
}

export interface CommandInfo {
  name: string
  subcommands: CommandInfo[]
  options: Array<{ names: string[] }>
}

interface RawCommand {
  Name: string
  Subcommands: RawCommand[] | null
  Options: Array<{ Names: string[] }> | null
}

function toAddResult(raw: RawAddEntry): AddResult {
  return {
    name: raw.Name,
    cid: raw.Hash ?? '',
    size: Number(raw.Size ?? 0),
    ...(raw.Mode == null ? {} : { mode: Number.parseInt(raw.Mode, 8) }),
    ...(raw.Mtime == null
      ? {}
      : { mtime: new Date(raw.Mtime * 1000 + Math.floor((raw.MtimeNsecs ?? 0) / 1e6)) })
  }
}

function toCommandInfo(raw: RawCommand): CommandInfo {
  return {
    name: raw.Name,
    subcommands: list(raw.Subcommands).map(toCommandInfo),
    options: list(raw.Options).map(option => ({ names: option.Names }))
  }
}

/** The top-level commands: `add`, `cat`, `get`, `ls`, `id`, `version`, `ping`, `resolve`, `refs`, `shutdown`, `commands`. */
export function createRootCommands(invoker: Invoker) {
  async function* addEntries(
    entries: AsyncIterable<import('../transport.js').BodyEntry>,
    options: AddOptions
  ): AsyncGenerator<AddResult> {
    const onProgress = options.onProgress
    for await (const raw of invoker.ndjson<RawAddEntry>('add', options, {
      body: entries,
      // preserveMode / preserveMtime go to Kubo too: it stores what the parts carry only when asked.
      omit: ['onProgress', 'hidden', 'dereferenceSymlinks'],
      options: { 'stream-channels': true, progress: onProgress != null ? true : undefined }
    })) {
      if (raw.Hash == null) {
        // A progress line: { Name, Bytes }.
        if (raw.Bytes != null) onProgress?.(raw.Bytes, raw.Name)
        continue
      }
      yield toAddResult(raw)
    }
  }

  async function last(results: AsyncIterable<AddResult>): Promise<AddResult> {
    let root: AddResult | undefined
    for await (const result of results) root = result
    if (root == null) throw new InvalidArgumentError('input', 'nothing was added: the input was empty')
    return root
  }

  const addAll = (input: AddInput, options: AddOptions = {}): AsyncIterable<AddResult> =>
    addEntries(entriesFromInput(input), options)

  const addPathAll = (
    paths: string | readonly string[],
    options: AddPathOptions = {}
  ): AsyncIterable<AddResult> =>
    addEntries(entriesFromPaths(typeof paths === 'string' ? [paths] : paths, options), options)

  const version = Object.assign(
    /** Kubo's version and build (`ipfs version --all`). */
    async (options: CallOptions = {}): Promise<VersionInfo> => {
      const raw = await invoker.json<{
        Version: string
        Commit: string
        Repo: string
        System: string
        Golang: string
      }>('version', options)
      return {
        version: raw.Version,
        commit: raw.Commit,
        repo: raw.Repo,
        system: raw.System,
        golang: raw.Golang
      }
    },
    {
      /** The Go modules Kubo was built from. */
      deps: async function* (options: CallOptions = {}): AsyncGenerator<VersionDependency> {
        for await (const raw of invoker.ndjson<{
          Path: string
          Version: string
          ReplacedBy: string
          Sum: string
        }>('version/deps', options)) {
          yield { path: raw.Path, version: raw.Version, replacedBy: raw.ReplacedBy, sum: raw.Sum }
        }
      },
      /** Whether this Kubo is outdated compared with its peers. */
      check: async (options: CallOptions & { minPercent?: number } = {}): Promise<Record<string, unknown>> =>
        await invoker.json('version/check', options)
    }
  )

  const refs = Object.assign(
    /** The CIDs linked from `path` (and below, with `recursive`). */
    async function* (path: string | readonly string[], options: RefsOptions = {}): AsyncGenerator<Ref> {
      const paths = typeof path === 'string' ? [path] : [...path]
      for (const item of paths) checkPath(item)
      for await (const raw of invoker.ndjson<{ Ref: string; Err: string }>('refs', options, {
        args: paths
      })) {
        yield { ref: raw.Ref, error: raw.Err }
      }
    },
    {
      /** Every block in the local repo. */
      local: async function* (options: CallOptions = {}): AsyncGenerator<Ref> {
        for await (const raw of invoker.ndjson<{ Ref: string; Err: string }>('refs/local', options)) {
          yield { ref: raw.Ref, error: raw.Err }
        }
      }
    }
  )

  return {
    /** Adds one blob, stream or in-memory tree and resolves with the root's result (its CID). */
    add: async (input: AddInput, options: AddOptions = {}): Promise<AddResult> =>
      await last(addAll(input, options)),
    /** Like `add`, yielding a result for every file and directory added, root last. */
    addAll,
    /** Adds files and directories from disk (directories recursively) and resolves with the last root's result. */
    addPath: async (paths: string | readonly string[], options: AddPathOptions = {}): Promise<AddResult> =>
      await last(addPathAll(paths, options)),
    /** Like `addPath`, yielding a result for every file and directory added. */
    addPathAll,

    /** Streams a file's bytes. */
    cat: (path: string, options: CatOptions = {}): AsyncGenerator<Uint8Array> =>
      invoker.bytes('cat', options, () => ({ args: [checkPath(path)] })),

    /** Streams a file or directory as a TAR archive (gzip with `compress`). */
    get: (path: string, options: GetOptions = {}): AsyncGenerator<Uint8Array> =>
      invoker.bytes('get', options, () => ({ args: [checkPath(path)], options: { archive: true } })),

    /** Lists the links of a directory (or of any DAG node). */
    ls: async (path: string, options: LsOptions = {}): Promise<LsObject> => {
      const raw = await invoker.json<{
        Objects: Array<{
          Hash: string
          Links: Array<{
            Name: string
            Hash: string
            Size: number
            Type: number
            Target?: string
            Mode?: number
            ModTime?: string
          }> | null
        }>
      }>('ls', options, { args: [checkPath(path)], options: { stream: false } })
      const object = raw.Objects[0]
      return {
        path: object?.Hash ?? path,
        links: list(object?.Links).map(link => ({
          name: link.Name,
          cid: link.Hash,
          size: link.Size,
          type: link.Type,
          ...(link.Target == null || link.Target === '' ? {} : { target: link.Target }),
          ...(link.Mode == null || link.Mode === 0 ? {} : { mode: link.Mode & 0o7777 }),
          // Go's zero time (year 1) means "not recorded".
          ...(link.ModTime == null || link.ModTime.startsWith('0001-')
            ? {}
            : { mtime: new Date(link.ModTime) })
        }))
      }
    },

    /** This node's identity, or another peer's when `peerId` is given. */
    id: async (peerId?: string | IdOptions, options: IdOptions = {}): Promise<PeerInfo> => {
      if (typeof peerId === 'object') return await createRootCommands(invoker).id(undefined, peerId)
      const raw = await invoker.json<{
        ID: string
        PublicKey: string
        Addresses: string[] | null
        AgentVersion: string
        Protocols: string[] | null
      }>('id', options, { args: peerId == null ? [] : [checkPeerId(peerId)] })
      return {
        id: raw.ID,
        publicKey: raw.PublicKey,
        addresses: list(raw.Addresses),
        agentVersion: raw.AgentVersion,
        protocols: list(raw.Protocols)
      }
    },

    version,

    /** Pings a peer; yields Kubo's lines: a status line, then one per ping, then the average. */
    ping: async function* (peerId: string, options: PingOptions = {}): AsyncGenerator<PingReply> {
      for await (const raw of invoker.ndjson<{ Success: boolean; Time: number; Text: string }>(
        'ping',
        options,
        {
          args: [checkPeerId(peerId)]
        }
      )) {
        yield { success: raw.Success, time: raw.Time / 1e6, text: raw.Text }
      }
    },

    /** Resolves an /ipns/ or /ipfs/ path to the /ipfs/ path it points to. */
    resolve: async (path: string, options: ResolveOptions = {}): Promise<string> =>
      (await invoker.json<{ Path: string }>('resolve', options, { args: [checkPath(path)] })).Path,

    refs,

    /** Stops the daemon. */
    shutdown: async (options: CallOptions = {}): Promise<void> => {
      await invoker.none('shutdown', options)
    },

    /**
     * Mounts /ipfs, /ipns (and MFS) with FUSE on the daemon's machine; needs FUSE installed there
     * and `Mounts` in its config.
     */
    mount: async (options: MountOptions = {}): Promise<MountResult> => {
      const raw = await invoker.json<{ IPFS: string; IPNS: string; MFS?: string; FuseAllowOther: boolean }>(
        'mount',
        options
      )
      return { ipfs: raw.IPFS, ipns: raw.IPNS, mfs: raw.MFS ?? '', fuseAllowOther: raw.FuseAllowOther }
    },

    /** The daemon's command tree, with each command's options. */
    commands: async (options: CallOptions = {}): Promise<CommandInfo> =>
      toCommandInfo(await invoker.json<RawCommand>('commands', options, { options: { flags: true } }))
  }
}
