import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { type AddOptions, type UnixFS, unixfs } from '@helia/unixfs'
import {
  type CallOptions,
  type Content,
  ContentTooLargeError,
  type DownloadOptions,
  InvalidArgumentError,
  ModeNotSupportedError,
  type PinnedCid,
  type PinsOptions,
  type PublishInput,
  type PublishOptions,
  type ReadAllOptions,
  type ReadOptions
} from '@tk/interface'
import type { Helia } from 'helia'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import { runCall } from './call.js'
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHILDREN_PER_NODE } from './constants.js'
import { LocalPathError } from './errors.js'
import { type NameResolver, parseIpnsPathName } from './ipns.js'

interface Candidate {
  path: string
  content?: AsyncIterable<Uint8Array>
}

/**
 * Content on the embedded node: UnixFS (@helia/unixfs) over Helia's blockstore and pins.
 * `resolveName` turns the name of an `/ipns/<name>[/…]` path into the path it points at.
 * `announce` (absent with the DHT off) gets every block a publish stores or a pin adds, root first.
 */
export function createContent(
  helia: Helia,
  closing: AbortSignal,
  resolveName: NameResolver,
  announce: (cids: Iterable<CID>) => void = () => {}
): Content {
  const fsys = unixfs(helia)
  /** A UnixFS that stores nothing: `predictCid` and `onlyHash` compute CIDs only. */
  const hashOnly = unixfs({ blockstore: discardingBlockstore() })

  const add = async (
    target: UnixFS,
    input: PublishInput,
    options: PublishOptions,
    signal: AbortSignal
  ): Promise<CID> => {
    const addOptions = toAddOptions(options, signal)
    if (typeof input === 'string') {
      const candidates = await collectLocal(input, options)
      let root: CID | undefined
      for await (const entry of target.addAll(candidates, addOptions)) root = entry.cid
      if (root == null) throw new LocalPathError(input, 'holds nothing to publish')
      return root
    }
    if (input instanceof Uint8Array) return await target.addBytes(input, addOptions)
    if (isStream(input)) return await target.addByteStream(toAsyncIterable(input), addOptions)
    throw new InvalidArgumentError(
      'input',
      'expected a local path (string), a Uint8Array, or a stream / async iterable of Uint8Array chunks'
    )
  }

  const publish = async (input: PublishInput, options: PublishOptions = {}): Promise<string> =>
    await runCall('content.publish', options, closing, async signal => {
      if (options.onlyHash === true) return (await add(hashOnly, input, options, signal)).toString()
      const stored: CID[] = []
      const cid = await add(
        unixfs({ blockstore: recording(helia.blockstore, stored) }),
        input,
        options,
        signal
      )
      if (options.pin ?? true) {
        if (!(await helia.pins.isPinned(cid, { signal }))) {
          for await (const pinned of helia.pins.add(cid, { signal })) void pinned
        }
      }
      // In the background: Kubo announces what it adds too, and publish must not wait for the DHT.
      announce([cid, ...stored])
      return cid.toString()
    })

  const readStream = (cid: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> => {
    const parsed = parseContentPath(cid, 'content.readStream')
    checkByteCount(options.offset, 'offset')
    checkByteCount(options.length, 'length')
    return streamWithDeadline('content.readStream', options, closing, signal =>
      catResolved(fsys, parsed, resolveName, { offset: options.offset, length: options.length, signal })
    )
  }

  const unpin = async (cid: string, options: CallOptions = {}): Promise<void> => {
    const parsed = parseCid(cid)
    await runCall('content.unpin', options, closing, async signal => {
      for await (const unpinned of helia.pins.rm(parsed, { signal })) void unpinned
    })
  }

  async function pins(options: PinsOptions & { cidsOnly: true }): Promise<string[]>
  async function pins(options?: PinsOptions & { cidsOnly?: false }): Promise<PinnedCid[]>
  async function pins(options?: PinsOptions): Promise<string[] | PinnedCid[]>
  async function pins(options: PinsOptions = {}): Promise<string[] | PinnedCid[]> {
    const type = options.type ?? 'all'
    if (!['all', 'recursive', 'direct', 'indirect'].includes(type))
      throw new InvalidArgumentError('type', `"${type}" is not one of all, recursive, direct, indirect`)
    if (type === 'indirect') {
      throw new ModeNotSupportedError(
        'content.pins({ type: "indirect" })',
        'embedded',
        'Helia keeps no list of blocks pinned through a parent; ask for "recursive" pins and walk them, or use a Kubo node.'
      )
    }
    const list = await runCall('content.pins', options, closing, async signal => {
      const found: PinnedCid[] = []
      for await (const pin of helia.pins.ls({ signal })) {
        const pinType = pin.depth === 0 ? 'direct' : 'recursive'
        if (type === 'all' || type === pinType) found.push({ cid: pin.cid.toString(), type: pinType })
      }
      return found
    })
    return options.cidsOnly === true ? list.map(pin => pin.cid) : list
  }

  return {
    publish,
    predictCid: async (input, options = {}) =>
      await publish(input, { ...options, onlyHash: true, pin: false }),

    read: async (cid: string, options: ReadAllOptions = {}): Promise<Uint8Array> => {
      const parsed = parseContentPath(cid, 'content.read')
      const maxBytes = options.maxBytes
      if (maxBytes != null && (!Number.isSafeInteger(maxBytes) || maxBytes < 0))
        throw new InvalidArgumentError('maxBytes', `expected a whole number of bytes >= 0, got ${maxBytes}`)
      checkByteCount(options.offset, 'offset')
      checkByteCount(options.length, 'length')
      return await runCall('content.read', options, closing, async signal => {
        // One byte over the limit is enough to know it is exceeded.
        const length =
          maxBytes == null
            ? options.length
            : Math.min(options.length ?? Number.POSITIVE_INFINITY, maxBytes + 1)
        const chunks: Uint8Array[] = []
        let total = 0
        const target = await resolveContentPath(parsed, resolveName, signal)
        for await (const chunk of catPath(fsys, target, { offset: options.offset, length, signal })) {
          total += chunk.byteLength
          if (maxBytes != null && total > maxBytes) throw new ContentTooLargeError(cid, maxBytes)
          chunks.push(chunk)
        }
        return concat(chunks, total)
      })
    },

    readStream,

    download: async (cid: string, destination: string, options: DownloadOptions = {}): Promise<string> => {
      const parsed = parseContentPath(cid, 'content.download')
      if (typeof destination !== 'string' || destination === '')
        throw new InvalidArgumentError('destination', 'expected a local path to save to')
      const target = path.resolve(destination)
      const parentStat = await fs.stat(path.dirname(target)).catch(() => undefined)
      if (parentStat?.isDirectory() !== true)
        throw new LocalPathError(path.dirname(destination), 'is not an existing directory to download into')
      if (options.overwrite !== true && (await exists(target)))
        throw new LocalPathError(destination, 'already exists; pass { overwrite: true } to replace it')
      const temporary = `${target}.part-${randomBytes(6).toString('hex')}`
      try {
        await runCall('content.download', options, closing, async signal => {
          const progress = { written: 0 }
          const source = await resolveContentPath(parsed, resolveName, signal)
          await writeEntry(fsys, source, temporary, signal, progress, options.onProgress)
        })
        if (options.overwrite === true) await fs.rm(target, { recursive: true, force: true })
        await fs.rename(temporary, target)
      } catch (error) {
        // The partial download must not stay behind; a failure to remove it would hide the error that matters.
        await fs.rm(temporary, { recursive: true, force: true }).catch(() => {})
        throw error
      }
      return target
    },

    pin: async (cid: string, options: CallOptions = {}): Promise<void> => {
      const parsed = parseCid(cid)
      await runCall('content.pin', options, closing, async signal => {
        if (await helia.pins.isPinned(parsed, { signal })) return
        const pinned: CID[] = [parsed]
        for await (const block of helia.pins.add(parsed, { signal })) pinned.push(block)
        announce(pinned)
      })
    },

    unpin,
    pins,

    remove: async (cid: string, options: CallOptions = {}): Promise<boolean> => {
      const parsed = parseCid(cid)
      return await runCall('content.remove', options, closing, async signal => {
        if (await helia.pins.isPinned(parsed, { signal })) {
          for await (const unpinned of helia.pins.rm(parsed, { signal })) void unpinned
        }
        await helia.gc({ signal })
        return !(await helia.blockstore.has(parsed, { signal }))
      })
    }
  }
}

/** A CID, or an `/ipfs/<cid>[/path]` path, split into the root and the path below it. */
interface ContentPath {
  cid: CID
  path: string
}

/** An `/ipns/<name>[/path]` path: the name still to resolve, and the path below what it points at. */
interface NamePath {
  name: CID
  path: string
}

/**
 * `value` checked and split, before any work: a bad CID or name fails at once. An `/ipns/` path
 * is resolved later, inside the call (under its signal and deadline).
 */
function parseContentPath(value: string, operation: string): ContentPath | NamePath {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError('cid', 'expected a CID, an /ipfs/<cid>/… or an /ipns/<name>/… path')
  if (value.startsWith('/ipns/')) {
    const [name = '', ...rest] = value.slice('/ipns/'.length).split('/')
    return { name: parseIpnsPathName(name, operation), path: joinPath(rest) }
  }
  return parseIpfsPath(value)
}

function parseIpfsPath(value: string): ContentPath {
  const trimmed = value.startsWith('/ipfs/') ? value.slice('/ipfs/'.length) : value
  const [root = '', ...rest] = trimmed.split('/')
  return { cid: parseCid(root), path: joinPath(rest) }
}

function joinPath(parts: string[]): string {
  return parts.filter(part => part !== '').join('/')
}

/**
 * The CID and path that `target` stands for: itself, or what its IPNS name resolves to (as Kubo
 * does, with the path below the name kept below what the name points at).
 */
async function resolveContentPath(
  target: ContentPath | NamePath,
  resolveName: NameResolver,
  signal: AbortSignal
): Promise<ContentPath> {
  if ('cid' in target) return target
  const resolved = await resolveName(target.name, { signal })
  if (!resolved.startsWith('/ipfs/'))
    throw new InvalidArgumentError('name', `the IPNS name points at "${resolved}", not at an /ipfs/ path`)
  const base = parseIpfsPath(resolved)
  return { cid: base.cid, path: joinPath([base.path, target.path]) }
}

/** {@link catPath} of `target` once resolved; the name is resolved when the stream is first read. */
async function* catResolved(
  fsys: UnixFS,
  target: ContentPath | NamePath,
  resolveName: NameResolver,
  options: { offset?: number; length?: number; signal: AbortSignal }
): AsyncGenerator<Uint8Array> {
  yield* catPath(fsys, await resolveContentPath(target, resolveName, options.signal), options)
}

function parseCid(value: string): CID {
  try {
    return CID.parse(value)
  } catch (error) {
    throw new InvalidArgumentError('cid', `"${String(value)}" is not a CID`, { cause: error })
  }
}

function catPath(
  fsys: UnixFS,
  target: ContentPath,
  options: { offset?: number; length?: number; signal: AbortSignal }
): AsyncIterable<Uint8Array> {
  return fsys.cat(target.cid, {
    path: target.path === '' ? undefined : target.path,
    offset: options.offset == null ? undefined : BigInt(options.offset),
    length: options.length == null ? undefined : BigInt(options.length),
    signal: options.signal
  } as Parameters<UnixFS['cat']>[1])
}

/**
 * A stream whose whole iteration has one deadline and ends when the node closes: each chunk is
 * awaited under {@link runCall}'s rules, so a stalled fetch settles in time.
 */
function streamWithDeadline(
  operation: string,
  options: CallOptions,
  closing: AbortSignal,
  open: (signal: AbortSignal) => AsyncIterable<Uint8Array>
): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => {
      const controller = new AbortController()
      const deadline = options.timeout == null ? undefined : Date.now() + options.timeout
      const iterator = open(controller.signal)[Symbol.asyncIterator]()
      return {
        next: async () =>
          await runCall(
            operation,
            {
              signal: options.signal,
              timeout: deadline == null ? undefined : Math.max(0, deadline - Date.now())
            },
            closing,
            async signal => {
              const onAbort = (): void => controller.abort(signal.reason)
              signal.addEventListener('abort', onAbort, { once: true })
              try {
                return await iterator.next()
              } finally {
                signal.removeEventListener('abort', onAbort)
              }
            }
          ).catch((error: unknown) => {
            controller.abort(error)
            throw error
          }),
        return: async () => {
          controller.abort()
          await iterator.return?.()
          return { done: true, value: undefined }
        }
      }
    }
  }
}

async function writeEntry(
  fsys: UnixFS,
  source: ContentPath,
  destination: string,
  signal: AbortSignal,
  progress: { written: number },
  onProgress: ((bytesWritten: number) => void) | undefined
): Promise<void> {
  const stat = await fsys.stat(source.cid, { path: source.path === '' ? undefined : source.path, signal })
  if (stat.type === 'directory') {
    await fs.mkdir(destination)
    for await (const entry of fsys.ls(source.cid, {
      path: source.path === '' ? undefined : source.path,
      signal
    })) {
      if (entry.name === '' || entry.name === '.' || entry.name === '..' || /[/\\]/.test(entry.name))
        throw new LocalPathError(entry.name, 'is not a safe file name to download into')
      await writeEntry(
        fsys,
        { cid: entry.cid, path: '' },
        path.join(destination, entry.name),
        signal,
        progress,
        onProgress
      )
    }
    return
  }
  const file = await fs.open(destination, 'wx')
  try {
    for await (const chunk of catPath(fsys, { cid: stat.cid, path: '' }, { signal })) {
      await file.write(chunk)
      progress.written += chunk.byteLength
      onProgress?.(progress.written)
    }
  } finally {
    await file.close()
  }
}

/**
 * The files and directories below a local path, named as `ipfs add -r` names them (relative to
 * the path's parent, so the last entry the importer yields is the path itself).
 */
async function collectLocal(given: string, options: PublishOptions): Promise<Candidate[]> {
  if (given === '') throw new InvalidArgumentError('input', 'an empty string is not a path')
  const absolute = path.resolve(given)
  const base = path.basename(absolute)
  const candidates: Candidate[] = []
  const visit = async (file: string, name: string): Promise<void> => {
    let stat: Awaited<ReturnType<typeof fs.lstat>>
    try {
      stat = options.followSymlinks === true ? await fs.stat(file) : await fs.lstat(file)
    } catch (error) {
      throw new LocalPathError(file, 'does not exist or cannot be read', { cause: error })
    }
    if (stat.isSymbolicLink()) {
      throw new ModeNotSupportedError(
        'content.publish of a symbolic link',
        'embedded',
        'Pass { followSymlinks: true } to publish what it points to, or use a Kubo node.'
      )
    }
    if (stat.isDirectory()) {
      candidates.push({ path: name })
      const entries = (await fs.readdir(file)).sort()
      for (const entry of entries) {
        if (options.hidden !== true && entry.startsWith('.')) continue
        await visit(path.join(file, entry), `${name}/${entry}`)
      }
      return
    }
    if (!stat.isFile()) throw new LocalPathError(file, 'is neither a file nor a directory')
    await fs.access(file, fs.constants.R_OK).catch((error: unknown) => {
      throw new LocalPathError(file, 'cannot be read', { cause: error })
    })
    candidates.push({ path: name, content: readLazily(file) })
  }
  await visit(absolute, base)
  return candidates
}

/**
 * A file's content, opened only when the importer reads it: opening every file of a large
 * directory up front would hold one descriptor per file at once (EMFILE), and leave them open
 * when a publish is aborted before reaching them.
 */
async function* readLazily(file: string): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(file)
  try {
    for await (const chunk of stream) yield chunk as Uint8Array
  } finally {
    stream.destroy()
  }
}

function toAddOptions(options: PublishOptions, signal: AbortSignal): AddOptions {
  const cidVersion = options.cidVersion ?? 1
  if (cidVersion !== 0 && cidVersion !== 1)
    throw new InvalidArgumentError('cidVersion', `expected 0 or 1, got ${String(cidVersion)}`)
  if (options.chunker != null && options.chunker !== `size-${DEFAULT_CHUNK_SIZE}`) {
    throw new ModeNotSupportedError(
      `content.publish with chunker "${options.chunker}"`,
      'embedded',
      `Leave chunker at its default (size-${DEFAULT_CHUNK_SIZE}), or use a Kubo node for other chunkers.`
    )
  }
  return {
    cidVersion,
    // Kubo's defaults: raw leaves with CIDv1, UnixFS file leaves with CIDv0.
    rawLeaves: options.rawLeaves ?? cidVersion === 1,
    wrapWithDirectory: options.wrapWithDirectory ?? false,
    // @helia/unixfs defaults to 1 MiB chunks and 1024 links per node (Filecoin's settings);
    // Kubo's are 256 KiB and 174, and the CIDs only match with Kubo's.
    chunker: fixedSize({ chunkSize: DEFAULT_CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: DEFAULT_MAX_CHILDREN_PER_NODE }),
    signal
  } as AddOptions
}

function isStream(input: unknown): input is AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> {
  if (input == null || typeof input !== 'object') return false
  return Symbol.asyncIterator in input || typeof (input as { getReader?: unknown }).getReader === 'function'
}

async function* toAsyncIterable(
  input: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>
): AsyncGenerator<Uint8Array> {
  if (Symbol.asyncIterator in input) {
    for await (const chunk of input as AsyncIterable<Uint8Array>) {
      if (!(chunk instanceof Uint8Array))
        throw new InvalidArgumentError('input', 'stream chunks must be Uint8Array')
      yield chunk
    }
    return
  }
  const reader = (input as ReadableStream<Uint8Array>).getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

/** `blockstore`, noting the CID of every block put through it in `stored` (what a publish must announce). */
function recording(
  blockstore: Helia['blockstore'],
  stored: CID[]
): Parameters<typeof unixfs>[0]['blockstore'] {
  return new Proxy(blockstore, {
    get(target, property) {
      if (property === 'put') {
        return async (cid: CID, ...rest: unknown[]) => {
          const result = await (target.put as (...args: unknown[]) => Promise<unknown>).call(
            target,
            cid,
            ...rest
          )
          stored.push(cid)
          return result
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  }) as unknown as Parameters<typeof unixfs>[0]['blockstore']
}

function discardingBlockstore() {
  return {
    put: async (cid: CID) => cid,
    has: async () => false,
    get: async (): Promise<never> => {
      throw new Error('a hash-only publish reads no blocks')
    }
  } as unknown as Parameters<typeof unixfs>[0]['blockstore']
}

function checkByteCount(value: number | undefined, argument: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value < 0))
    throw new InvalidArgumentError(argument, `expected a whole number of bytes >= 0, got ${value}`)
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

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0] != null) return chunks[0]
  const result = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    result.set(chunk, offset)
    offset += chunk.byteLength
  }
  return result
}
