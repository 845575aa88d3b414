import { randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import {
  ContentTooLargeError,
  type DownloadOptions,
  type PinnedCid,
  type PinsOptions,
  type PublishInput,
  type PublishOptions,
  type ReadAllOptions,
  type ReadOptions
} from '@tk/interface'
import { AbortError, type AddContent, type AddOptions, InvalidArgumentError, KuboRpcError } from '@tk/rpc'
import { checkCid, checkPath } from '@tk/rpc/validate'
import type { ApiContext } from './context.js'
import { LocalPathError } from './errors.js'
import type { CallOptions } from './options.js'

// The option and result types are @tk/interface's, so both modes take and return the same shapes.
export type {
  DownloadOptions,
  PinnedCid,
  PinsOptions,
  PublishInput,
  PublishOptions,
  ReadAllOptions,
  ReadOptions
} from '@tk/interface'

// The same error as @tk/interface's (one class, so `name` and `instanceof` agree across modes).
export { ContentTooLargeError }

/** The archive Kubo sent for a download has an entry that would be unsafe or impossible to write. */
export class UnsafeArchiveError extends Error {
  static override readonly name = 'UnsafeArchiveError'
  override readonly name = 'UnsafeArchiveError'
  readonly isRetryable = false
  /** The entry's name in the archive ('' when the archive itself is malformed). */
  readonly entry: string

  constructor(entry: string, problem: string, options?: ErrorOptions) {
    super(`Refused to unpack the download${entry === '' ? '' : ` at "${entry}"`}: ${problem}`, options)
    this.entry = entry
  }
}

/** Publishing, downloading, reading and pinning content. */
export function createContentFunctions(context: ApiContext) {
  const { client } = context
  const pinCache = new Map<string, { time: number; pins: PinnedCid[] }>()

  const publish = async (input: PublishInput, options: PublishOptions = {}): Promise<string> => {
    const addOptions = toAddOptions(options)
    let cid: string
    if (typeof input === 'string') {
      const absolute = await checkLocalPath(input, options)
      try {
        cid = (
          await client.addPath(absolute, {
            ...addOptions,
            hidden: options.hidden,
            dereferenceSymlinks: options.followSymlinks
          })
        ).cid
      } catch (error) {
        throw asLocalPathError(error, absolute) ?? error
      }
    } else {
      if (!isContent(input)) {
        throw new InvalidArgumentError(
          'input',
          'expected a local path (string), a Uint8Array, or a stream / async iterable of Uint8Array chunks'
        )
      }
      cid = (await client.add(input as AddContent, addOptions)).cid
    }
    if (options.onlyHash !== true) pinCache.clear()
    return cid
  }

  const readStream = (cid: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> => {
    checkPath(cid, 'cid')
    checkByteCount(options.offset, 'offset')
    checkByteCount(options.length, 'length')
    return client.cat(cid, {
      offset: options.offset,
      length: options.length,
      signal: options.signal,
      timeout: options.timeout
    })
  }

  const unpin = async (cid: string, options: CallOptions = {}): Promise<void> => {
    checkPath(cid, 'cid')
    try {
      await client.pin.rm(cid, { signal: options.signal, timeout: options.timeout })
    } finally {
      pinCache.clear()
    }
  }

  async function pins(options: PinsOptions & { cidsOnly: true }): Promise<string[]>
  async function pins(options?: PinsOptions & { cidsOnly?: false }): Promise<PinnedCid[]>
  async function pins(options?: PinsOptions): Promise<string[] | PinnedCid[]>
  async function pins(options: PinsOptions = {}): Promise<string[] | PinnedCid[]> {
    const type = options.type ?? 'all'
    if (!['all', 'recursive', 'direct', 'indirect'].includes(type)) {
      throw new InvalidArgumentError('type', `"${type}" is not one of all, recursive, direct, indirect`)
    }
    const cacheAge = options.cacheAge ?? 0
    if (typeof cacheAge !== 'number' || !(cacheAge >= 0))
      throw new InvalidArgumentError('cacheAge', `expected milliseconds >= 0, got ${String(cacheAge)}`)
    const cached = pinCache.get(type)
    let list: PinnedCid[]
    if (cached != null && Date.now() - cached.time < cacheAge) {
      list = cached.pins
    } else {
      const time = Date.now()
      list = []
      for await (const pin of client.pin.ls({ type, signal: options.signal, timeout: options.timeout })) {
        list.push({ cid: pin.cid, type: pin.type })
      }
      pinCache.set(type, { time, pins: list })
    }
    return options.cidsOnly === true ? list.map(pin => pin.cid) : list.map(pin => ({ ...pin }))
  }

  return {
    /**
     * Adds a local file or directory (a `string` path; directories recursively, resolving with the
     * directory's own CID) or content (bytes, a stream) to IPFS and resolves with its CID.
     */
    publish,

    /** The CID `publish` would give for the same input and options, computed without storing anything. */
    predictCid: async (input: PublishInput, options: PublishOptions = {}): Promise<string> =>
      await publish(input, { ...options, onlyHash: true, pin: false }),

    /**
     * Saves a file or directory (a CID, `/ipfs/…` or `/ipns/…` path) at `destination`, atomically: it
     * is written to `<destination>.part-<random>` beside it and renamed into place only once
     * complete, so `destination` never holds a partial download. Resolves with the absolute path.
     */
    download: async (cid: string, destination: string, options: DownloadOptions = {}): Promise<string> => {
      checkPath(cid, 'cid')
      if (typeof destination !== 'string' || destination === '')
        throw new InvalidArgumentError('destination', 'expected a local path to save to')
      const target = path.resolve(destination)
      const parent = path.dirname(target)
      const parentStat = await fs.stat(parent).catch(() => undefined)
      if (parentStat?.isDirectory() !== true) {
        throw new LocalPathError(path.dirname(destination), 'is not an existing directory to download into')
      }
      if (options.overwrite !== true && (await exists(target))) {
        throw new LocalPathError(destination, 'already exists; pass { overwrite: true } to replace it')
      }
      throwIfAborted(options.signal)
      const temporary = `${target}.part-${randomBytes(6).toString('hex')}`
      try {
        const archive = client.get(cid, { signal: options.signal, timeout: options.timeout })
        await extractTar(archive, temporary, options)
        await moveIntoPlace(temporary, target, destination, options.overwrite === true)
      } catch (error) {
        // Whatever failed, the partial download must not stay behind; a failure to remove it would
        // hide the error that matters.
        await fs.rm(temporary, { recursive: true, force: true }).catch(() => {})
        throw error
      }
      return target
    },

    /** The whole content of a file, in memory; guard with `maxBytes` when it may be large. */
    read: async (cid: string, options: ReadAllOptions = {}): Promise<Uint8Array> => {
      checkPath(cid, 'cid')
      const maxBytes = options.maxBytes
      if (maxBytes != null && (!Number.isSafeInteger(maxBytes) || maxBytes < 0))
        throw new InvalidArgumentError('maxBytes', `expected a whole number of bytes >= 0, got ${maxBytes}`)
      checkByteCount(options.offset, 'offset')
      checkByteCount(options.length, 'length')
      // One byte over the limit is enough to know it is exceeded; Kubo need not send the rest.
      const length =
        maxBytes == null ? options.length : Math.min(options.length ?? Number.POSITIVE_INFINITY, maxBytes + 1)
      const chunks: Uint8Array[] = []
      let total = 0
      for await (const chunk of client.cat(cid, {
        offset: options.offset,
        length,
        signal: options.signal,
        timeout: options.timeout
      })) {
        total += chunk.byteLength
        if (maxBytes != null && total > maxBytes) throw new ContentTooLargeError(cid, maxBytes)
        chunks.push(chunk)
      }
      return concat(chunks, total)
    },

    /** Streams a file's content in chunks, for content too large to hold in memory. */
    readStream,

    /** Pins content (recursively) so garbage collection keeps it; fetches what is missing. */
    pin: async (cid: string, options: CallOptions = {}): Promise<void> => {
      checkPath(cid, 'cid')
      try {
        await client.pin.add(cid, { signal: options.signal, timeout: options.timeout })
      } finally {
        pinCache.clear()
      }
    },

    /** Removes a recursive pin; Kubo refuses (`KuboRpcError`, "not pinned or pinned indirectly") when there is none. */
    unpin,

    /** What this node has pinned: `{ cid, type }` objects, or CIDs with `cidsOnly`; cached with `cacheAge`. */
    pins,

    /**
     * Unpins content (if pinned) and collects garbage; resolves with whether its root block is gone
     * from the repo (false when something else, e.g. another pin, still holds it).
     */
    remove: async (cid: string, options: CallOptions = {}): Promise<boolean> => {
      checkCid(cid, 'cid')
      const callOptions = { signal: options.signal, timeout: options.timeout }
      try {
        await unpin(cid, callOptions)
      } catch (error) {
        // Not pinned (or only as part of another pin) is fine: garbage collection decides below.
        if (!(error instanceof KuboRpcError && /not pinned/.test(error.kuboMessage))) throw error
      }
      for await (const result of client.repo.gc(callOptions)) void result
      try {
        await client.block.stat(cid, { ...callOptions, offline: true })
        return false
      } catch (error) {
        if (error instanceof KuboRpcError && /not found locally|could not find/.test(error.kuboMessage))
          return true
        throw error
      }
    }
  }
}

function toAddOptions(options: PublishOptions): AddOptions {
  const cidVersion = options.cidVersion ?? 1
  if (cidVersion !== 0 && cidVersion !== 1)
    throw new InvalidArgumentError('cidVersion', `expected 0 or 1, got ${String(cidVersion)}`)
  if (options.chunker != null && (typeof options.chunker !== 'string' || options.chunker === ''))
    throw new InvalidArgumentError('chunker', 'expected a chunker such as size-262144')
  return {
    cidVersion,
    pin: options.pin ?? true,
    onlyHash: options.onlyHash,
    wrapWithDirectory: options.wrapWithDirectory,
    rawLeaves: options.rawLeaves,
    chunker: options.chunker,
    signal: options.signal,
    timeout: options.timeout
  }
}

function isContent(input: unknown): boolean {
  if (input instanceof Uint8Array) return true
  if (input == null || typeof input !== 'object') return false
  return Symbol.asyncIterator in input || typeof (input as { getReader?: unknown }).getReader === 'function'
}

function checkByteCount(value: number | undefined, argument: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value < 0))
    throw new InvalidArgumentError(argument, `expected a whole number of bytes >= 0, got ${value}`)
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortError('download', { cause: signal.reason })
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

/**
 * Checks that `given` exists and that everything `publish` would read below it can be read, so a
 * failure names the entry at fault before anything is sent. Returns the absolute path.
 */
async function checkLocalPath(given: string, options: PublishOptions): Promise<string> {
  if (given === '') throw new InvalidArgumentError('input', 'an empty string is not a path')
  const absolute = path.resolve(given)
  let stat: Stats
  try {
    stat = await fs.lstat(absolute)
  } catch (error) {
    throw localPathError(given, error)
  }
  await checkReadable(absolute, given, stat, options, new Set())
  return absolute
}

async function checkReadable(
  absolute: string,
  shown: string,
  stat: Stats,
  options: PublishOptions,
  ancestors: ReadonlySet<string>
): Promise<void> {
  if (stat.isSymbolicLink()) {
    if (options.followSymlinks !== true) return
    let target: Stats
    try {
      target = await fs.stat(absolute)
    } catch (error) {
      throw localPathError(shown, error, 'is a symbolic link to something that cannot be read')
    }
    await checkReadable(absolute, shown, target, options, ancestors)
    return
  }
  if (stat.isDirectory()) {
    // With followSymlinks, a link to an ancestor would make the walk endless.
    const identity = `${stat.dev}:${stat.ino}`
    if (ancestors.has(identity))
      throw new LocalPathError(shown, 'links back to a directory it is inside of (a symlink cycle)')
    let names: string[]
    try {
      names = await fs.readdir(absolute)
    } catch (error) {
      throw localPathError(shown, error, 'cannot be listed')
    }
    const inside = new Set(ancestors).add(identity)
    for (const name of names) {
      if (options.hidden !== true && name.startsWith('.')) continue
      const child = path.join(absolute, name)
      const childShown = path.join(shown, name)
      let childStat: Stats
      try {
        childStat = await fs.lstat(child)
      } catch (error) {
        throw localPathError(childShown, error)
      }
      await checkReadable(child, childShown, childStat, options, inside)
    }
    return
  }
  if (stat.isFile()) {
    try {
      await (await fs.open(absolute, 'r')).close()
    } catch (error) {
      throw localPathError(shown, error, 'cannot be read')
    }
  }
  // Sockets, FIFOs and devices are skipped by `ipfs add`, so they cannot fail it.
}

function localPathError(shown: string, error: unknown, problem?: string): LocalPathError {
  const code = (error as NodeJS.ErrnoException).code
  const reason =
    code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code
  return new LocalPathError(
    shown,
    problem == null
      ? (reason ?? (error as Error).message)
      : `${problem} (${reason ?? (error as Error).message})`,
    { cause: error }
  )
}

/**
 * A file-system error about an entry below `root` somewhere in `error`'s cause chain (an entry that
 * changed after the check), as a LocalPathError. Errors about other paths (e.g. the CLI backend's
 * temp copy) are left as they are.
 */
function asLocalPathError(error: unknown, root: string): LocalPathError | undefined {
  for (let cause: unknown = error, depth = 0; cause != null && depth < 8; depth++) {
    const errno = cause as NodeJS.ErrnoException
    if (
      typeof errno.code === 'string' &&
      typeof errno.path === 'string' &&
      (errno.path === root || errno.path.startsWith(`${root}${path.sep}`))
    ) {
      return localPathError(errno.path, errno, 'could not be read while publishing')
    }
    cause = errno.cause
  }
  return undefined
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0] != null) return chunks[0]
  const result = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    result.set(chunk, offset)
    offset += chunk.byteLength
  }
  return result
}

/** Renames the finished download into place, swapping out what is there only with `overwrite`. */
async function moveIntoPlace(
  temporary: string,
  target: string,
  shown: string,
  overwrite: boolean
): Promise<void> {
  if (!(await exists(target))) {
    await fs.rename(temporary, target)
    return
  }
  // Checked before the download too; this catches what appeared meanwhile.
  if (!overwrite) throw new LocalPathError(shown, 'already exists; pass { overwrite: true } to replace it')
  const current = await fs.lstat(target)
  if (!current.isDirectory()) {
    // rename() replaces a file atomically.
    await fs.rename(temporary, target)
    return
  }
  // A directory cannot be renamed over a non-empty one: move the old one aside first, and back if
  // the swap fails.
  const old = `${target}.old-${randomBytes(6).toString('hex')}`
  await fs.rename(target, old)
  try {
    await fs.rename(temporary, target)
  } catch (error) {
    await fs.rename(old, target)
    throw error
  }
  await fs.rm(old, { recursive: true, force: true })
}

// --- TAR, as Kubo writes it for `get` (Go's archive/tar: USTAR, PAX when a name or size needs it) ---

const BLOCK = 512
/** PAX and GNU long-name bodies hold a few names; anything bigger is not what Kubo writes. */
const MAX_METADATA_BYTES = 1024 * 1024
const decoder = new TextDecoder()

/** Reads an async stream of chunks as exact byte counts, holding at most one chunk. */
class ByteReader {
  readonly #iterator: AsyncIterator<Uint8Array>
  #chunk: Uint8Array = new Uint8Array(0)
  #offset = 0

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#iterator = chunks[Symbol.asyncIterator]()
  }

  async #fill(): Promise<boolean> {
    while (this.#offset >= this.#chunk.byteLength) {
      const next = await this.#iterator.next()
      if (next.done === true) return false
      this.#chunk = next.value
      this.#offset = 0
    }
    return true
  }

  /** Exactly `count` bytes; `undefined` when the stream ends before the first of them. */
  async read(count: number): Promise<Uint8Array | undefined> {
    const parts: Uint8Array[] = []
    let have = 0
    while (have < count) {
      if (!(await this.#fill())) {
        if (have === 0) return undefined
        throw new UnsafeArchiveError('', 'the archive ended in the middle of an entry')
      }
      const take = Math.min(count - have, this.#chunk.byteLength - this.#offset)
      parts.push(this.#chunk.subarray(this.#offset, this.#offset + take))
      this.#offset += take
      have += take
    }
    return concat(parts, have)
  }

  /** The next `count` bytes, as they arrive. */
  async *pieces(count: number): AsyncGenerator<Uint8Array> {
    let left = count
    while (left > 0) {
      if (!(await this.#fill())) throw new UnsafeArchiveError('', 'the archive ended in the middle of a file')
      const take = Math.min(left, this.#chunk.byteLength - this.#offset)
      const piece = this.#chunk.subarray(this.#offset, this.#offset + take)
      this.#offset += take
      left -= take
      yield piece
    }
  }

  async skip(count: number): Promise<void> {
    for await (const piece of this.pieces(count)) void piece
  }

  /** Reads to the end, so that an error the daemon reports after the data (an HTTP trailer, an exit status) surfaces. */
  async drain(): Promise<void> {
    for (;;) {
      this.#offset = this.#chunk.byteLength
      if (!(await this.#fill())) return
    }
  }

  async close(): Promise<void> {
    await this.#iterator.return?.()
  }
}

interface TarHeader {
  name: string
  mode: number
  size: number
  mtime: Date
  type: string
  linkName: string
}

function readString(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length)
  const end = field.indexOf(0)
  return decoder.decode(end < 0 ? field : field.subarray(0, end))
}

function readNumber(block: Uint8Array, start: number, length: number): number {
  const field = block.subarray(start, start + length)
  if (((field[0] ?? 0) & 0x80) !== 0) {
    // GNU base-256: big-endian, the top bit of the first byte marking the format.
    let value = (field[0] ?? 0) & 0x7f
    for (const byte of field.subarray(1)) value = value * 256 + byte
    return value
  }
  const text = readString(block, start, length).trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text))
    throw new UnsafeArchiveError('', `a header holds "${text}" where a number belongs`)
  return Number.parseInt(text, 8)
}

function parseHeader(block: Uint8Array): TarHeader {
  let unsigned = 0
  let signed = 0
  for (let index = 0; index < BLOCK; index++) {
    const byte = index >= 148 && index < 156 ? 0x20 : (block[index] ?? 0)
    unsigned += byte
    signed += byte > 127 ? byte - 256 : byte
  }
  const checksum = readNumber(block, 148, 8)
  if (checksum !== unsigned && checksum !== signed)
    throw new UnsafeArchiveError('', 'a header checksum is wrong')
  const name = readString(block, 0, 100)
  const isUstar = readString(block, 257, 5) === 'ustar'
  const prefix = isUstar ? readString(block, 345, 155) : ''
  return {
    name: prefix === '' ? name : `${prefix}/${name}`,
    mode: readNumber(block, 100, 8),
    size: readNumber(block, 124, 12),
    mtime: new Date(readNumber(block, 136, 12) * 1000),
    type: String.fromCharCode(block[156] ?? 0),
    linkName: readString(block, 157, 100)
  }
}

/** PAX records: `<length> <key>=<value>\n`, the length counting the whole record. */
function parsePax(body: Uint8Array): Map<string, string> {
  const records = new Map<string, string>()
  let offset = 0
  while (offset < body.byteLength) {
    const space = body.indexOf(0x20, offset)
    const length = Number.parseInt(decoder.decode(body.subarray(offset, space)), 10)
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0 || offset + length > body.byteLength)
      throw new UnsafeArchiveError('', 'a PAX header is malformed')
    const record = decoder.decode(body.subarray(space + 1, offset + length - 1))
    const equals = record.indexOf('=')
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1))
    offset += length
  }
  return records
}

/** A path piece Windows reads as a drive: `C:` alone, or `C:x` relative to that drive's current folder. */
const DRIVE = /^[A-Za-z]:/
/** `..`, and what Windows trims to it (`.. `, `...`): two or more dots, with dots and spaces after. */
const CLIMB = /^\.\.[. ]*$/

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK
}

/**
 * The `/`-separated parts of an entry name. Checked as every platform reads paths, whatever this
 * one is: `\` separates too on Windows, so `a/..\..\x` would climb out there, and Windows drops
 * trailing dots and spaces, so `.. ` and `...` can read as `..`. Refused: absolute names (`/x`,
 * `\x`, `\\server\share`), drive letters in any part (`C:\x`, `C:x`), such `..` parts, and NUL.
 */
function nameParts(name: string): string[] {
  if (name.startsWith('/') || name.startsWith('\\'))
    throw new UnsafeArchiveError(name, 'the name is absolute')
  if (name.includes('\0')) throw new UnsafeArchiveError(name, 'the name holds a NUL byte')
  const pieces = name.split(/[\\/]/)
  if (pieces.some(piece => DRIVE.test(piece)))
    throw new UnsafeArchiveError(
      name,
      'the name holds a drive letter (C:), which Windows reads as another place'
    )
  if (pieces.some(piece => CLIMB.test(piece)))
    throw new UnsafeArchiveError(name, 'the name climbs out of the download with ".."')
  const parts = name.split('/').filter(part => part !== '' && part !== '.')
  if (parts.length === 0) throw new UnsafeArchiveError(name, 'the name is empty')
  return parts
}

interface ExtractOptions {
  signal?: AbortSignal
  onProgress?: (bytesWritten: number) => void
}

/**
 * Unpacks the TAR stream of `ipfs get` into `root`: its first entry (the file, directory or
 * symlink asked for) becomes `root`, the rest go below it. Every entry must lie under the first and
 * come after its directory, and nothing is ever written through a symlink or over an existing
 * entry, so a hostile archive cannot write outside `root`. Memory stays at one chunk.
 */
async function extractTar(
  chunks: AsyncIterable<Uint8Array>,
  root: string,
  options: ExtractOptions
): Promise<void> {
  const reader = new ByteReader(chunks)
  let completed = false
  try {
    let rootParts: string[] | undefined
    const directories = new Set<string>()
    const directoryMetadata: Array<{ file: string; mode: number; mtime: Date }> = []
    let extended = new Map<string, string>()
    let written = 0
    for (;;) {
      throwIfAborted(options.signal)
      const block = await reader.read(BLOCK)
      if (block == null) throw new UnsafeArchiveError('', 'the archive ended without its end marker')
      if (block.every(byte => byte === 0)) break
      const header = parseHeader(block)
      if (header.type === 'x' || header.type === 'g' || header.type === 'L' || header.type === 'K') {
        if (header.size > MAX_METADATA_BYTES)
          throw new UnsafeArchiveError(header.name, 'an extended header is too large')
        const body = (await reader.read(header.size)) ?? new Uint8Array(0)
        await reader.skip(padding(header.size))
        // Global PAX headers ('g') carry nothing Kubo uses.
        if (header.type === 'x') for (const [key, value] of parsePax(body)) extended.set(key, value)
        if (header.type === 'L') extended.set('path', readString(body, 0, body.byteLength))
        if (header.type === 'K') extended.set('linkpath', readString(body, 0, body.byteLength))
        continue
      }
      const name = extended.get('path') ?? header.name
      const linkName = extended.get('linkpath') ?? header.linkName
      const size = extended.has('size') ? Number(extended.get('size')) : header.size
      const mtime = extended.has('mtime') ? new Date(Number(extended.get('mtime')) * 1000) : header.mtime
      extended = new Map()
      if (!Number.isSafeInteger(size) || size < 0) throw new UnsafeArchiveError(name, 'the size is not valid')

      const parts = nameParts(name)
      let relative: string[]
      if (rootParts == null) {
        rootParts = parts
        relative = []
      } else {
        const inside =
          parts.length > rootParts.length && rootParts.every((part, index) => parts[index] === part)
        if (!inside)
          throw new UnsafeArchiveError(name, `it is not inside "${rootParts.join('/')}", the download`)
        relative = parts.slice(rootParts.length)
        if (!directories.has(relative.slice(0, -1).join('/')))
          throw new UnsafeArchiveError(name, 'it does not come after a directory entry that holds it')
      }
      const file = path.join(root, ...relative)

      switch (header.type) {
        case '5':
          // Not recursive: an existing entry by that name means a duplicate in the archive.
          await fs.mkdir(file).catch(duplicate(name))
          directories.add(relative.join('/'))
          directoryMetadata.push({ file, mode: header.mode, mtime })
          await reader.skip(size + padding(size))
          break
        case '0':
        case '\0':
        case '7': {
          const handle = await fs.open(file, 'wx').catch(duplicate(name))
          try {
            for await (const piece of reader.pieces(size)) {
              await handle.write(piece)
              written += piece.byteLength
              options.onProgress?.(written)
              throwIfAborted(options.signal)
            }
          } finally {
            await handle.close()
          }
          await reader.skip(padding(size))
          await applyMetadata(file, header.mode, mtime)
          break
        }
        case '2':
          await fs.symlink(linkName, file).catch(duplicate(name))
          await reader.skip(size + padding(size))
          break
        default:
          throw new UnsafeArchiveError(name, `entries of TAR type "${header.type}" are not unpacked`)
      }
    }
    if (rootParts == null) throw new UnsafeArchiveError('', 'the archive is empty')
    await reader.drain()
    // Deepest first, after all content is written: writing into a directory changes its mtime,
    // and a read-only mode would stop the writing.
    for (const { file, mode, mtime } of directoryMetadata.reverse()) await applyMetadata(file, mode, mtime)
    completed = true
  } finally {
    // Stops the transfer (closes the connection or ends the `ipfs` process) when unpacking failed.
    if (!completed) await reader.close()
  }
}

/** Turns "already exists" into the archive's fault: the entry came twice. */
function duplicate(name: string): (error: unknown) => never {
  return error => {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UnsafeArchiveError(name, 'the archive holds this entry twice', { cause: error })
    throw error
  }
}

async function applyMetadata(file: string, mode: number, mtime: Date): Promise<void> {
  // Permission bits only: set-id and sticky bits from the network are not kept. Mode 0 means
  // "not recorded" in archives from other writers than Kubo's (which always records one).
  if ((mode & 0o777) !== 0) await fs.chmod(file, mode & 0o777)
  if (!Number.isNaN(mtime.getTime())) await fs.utimes(file, mtime, mtime)
}
