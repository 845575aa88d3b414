import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { InvalidArgumentError } from './errors.js'
import type { BodyEntry } from './transport.js'

/** Bytes to add: one blob, or a stream of chunks (Node or Web streams, (async) iterables). */
export type AddContent =
  | Uint8Array
  | string
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | ReadableStream<Uint8Array>
  | NodeJS.ReadableStream

/** One entry of a tree built in memory, e.g. `{ path: 'site/index.html', content: '<h1>hi</h1>' }`. */
export interface AddEntry {
  path: string
  /** Omit for a directory. */
  content?: AddContent
  mode?: number
  mtime?: Date
}

export type AddInput = AddContent | Iterable<AddEntry> | AsyncIterable<AddEntry>

const encoder = new TextEncoder()

/** Turns anything `add` accepts into body entries; a bare blob or stream becomes one unnamed file. */
export async function* entriesFromInput(input: AddInput): AsyncGenerator<BodyEntry> {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    yield { kind: 'file', path: '', content: toBytes(input) }
    return
  }
  if (input == null || (typeof input !== 'object' && typeof input !== 'function')) {
    throw new InvalidArgumentError(
      'input',
      'expected bytes, a string, a stream, an iterable of chunks or of { path, content } entries'
    )
  }
  const iterator = toAsyncIterable(input as AsyncIterable<unknown> | Iterable<unknown>)[
    Symbol.asyncIterator
  ]()
  const first = await iterator.next()
  if (first.done === true) {
    yield { kind: 'file', path: '', content: new Uint8Array(0) }
    return
  }
  if (first.value instanceof Uint8Array || typeof first.value === 'string') {
    // A stream of chunks: the whole input is one file.
    yield { kind: 'file', path: '', content: prepend(toBytes(first.value), iterator) }
    return
  }
  let item: IteratorResult<unknown> = first
  while (item.done !== true) {
    const entry = item.value as AddEntry
    if (typeof entry?.path !== 'string') {
      throw new InvalidArgumentError('input', 'each entry needs a string `path` (and `content` for files)')
    }
    if (entry.content == null) {
      yield { kind: 'directory', path: entry.path, mode: entry.mode, mtime: entry.mtime }
    } else {
      yield {
        kind: 'file',
        path: entry.path,
        content: contentChunks(entry.content),
        mode: entry.mode,
        mtime: entry.mtime
      }
    }
    item = await iterator.next()
  }
}

function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value
}

function contentChunks(content: AddContent): Uint8Array | AsyncIterable<Uint8Array> {
  if (typeof content === 'string' || content instanceof Uint8Array) return toBytes(content)
  return (async function* () {
    for await (const chunk of toAsyncIterable(content as AsyncIterable<unknown>)) {
      yield toBytes(chunk as Uint8Array | string)
    }
  })()
}

async function* prepend(first: Uint8Array, rest: AsyncIterator<unknown>): AsyncGenerator<Uint8Array> {
  yield first
  for (;;) {
    const next = await rest.next()
    if (next.done === true) return
    yield toBytes(next.value as Uint8Array | string)
  }
}

function toAsyncIterable<T>(value: AsyncIterable<T> | Iterable<T>): AsyncIterable<T> {
  if (Symbol.asyncIterator in value) return value
  if (Symbol.iterator in value) {
    return (async function* () {
      yield* value
    })()
  }
  throw new InvalidArgumentError('input', 'expected bytes, a string, a stream or an iterable')
}

export interface PathEntriesOptions {
  /** Include files and folders whose names start with `.`; default false, as `ipfs add` does. */
  hidden?: boolean
  /** Add what symlinks point to instead of the links themselves; default false. */
  dereferenceSymlinks?: boolean
  /** Keep each file's permission bits. */
  preserveMode?: boolean
  /** Keep each file's modification time. */
  preserveMtime?: boolean
}

/**
 * Walks files and directories on disk into body entries, depth first, directories before their
 * content, names sorted. Files are opened only when the request body reaches them.
 */
export async function* entriesFromPaths(
  paths: readonly string[],
  options: PathEntriesOptions = {}
): AsyncGenerator<BodyEntry> {
  for (const given of paths) {
    const absolute = path.resolve(given)
    const stat = await fs.lstat(absolute).catch((error: NodeJS.ErrnoException) => {
      throw new InvalidArgumentError('path', `cannot read ${given}: ${error.code ?? error.message}`, {
        cause: error
      })
    })
    yield* walk(absolute, path.basename(absolute), stat, options)
  }
}

async function* walk(
  absolute: string,
  relative: string,
  stat: Awaited<ReturnType<typeof fs.lstat>>,
  options: PathEntriesOptions
): AsyncGenerator<BodyEntry> {
  const mode = options.preserveMode === true ? Number(stat.mode) : undefined
  const mtime = options.preserveMtime === true ? stat.mtime : undefined
  if (stat.isSymbolicLink()) {
    if (options.dereferenceSymlinks === true) {
      yield* walk(absolute, relative, await fs.stat(absolute), options)
    } else {
      yield { kind: 'symlink', path: relative, target: await fs.readlink(absolute) }
    }
    return
  }
  if (stat.isDirectory()) {
    yield { kind: 'directory', path: relative, mode, mtime }
    const names = (await fs.readdir(absolute)).sort()
    for (const name of names) {
      if (options.hidden !== true && name.startsWith('.')) continue
      const child = path.join(absolute, name)
      yield* walk(child, `${relative}/${name}`, await fs.lstat(child), options)
    }
    return
  }
  if (stat.isFile()) {
    yield { kind: 'file', path: relative, content: readLazily(absolute), mode, mtime, absolutePath: absolute }
  }
  // Sockets, FIFOs and devices have no content to add; skip them as `ipfs add` does.
}

async function* readLazily(file: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) yield chunk as Uint8Array
}
