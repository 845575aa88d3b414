import type { CallOptions } from './options.js'

/** What `content.publish` takes: a local path (a `string`), or content as bytes or a stream of chunks. */
export type PublishInput = string | Uint8Array | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>

export interface PublishOptions extends CallOptions {
  /** 0 (`Qm…`) or 1 (`bafy…`); default 1. */
  cidVersion?: 0 | 1
  /** Pin what is published so garbage collection keeps it; default true. */
  pin?: boolean
  /** Only compute the CID; store nothing (what `predictCid` does). */
  onlyHash?: boolean
  /** Wrap the file or directory in a directory holding it under its own name; default false. */
  wrapWithDirectory?: boolean
  /** Include files and folders whose names start with `.`; default false, as `ipfs add` does. */
  hidden?: boolean
  /** Store file content as raw blocks; default true with CIDv1 (as Kubo does). */
  rawLeaves?: boolean
  /** How files are split into blocks, e.g. `size-262144` (the default). A mode may support only some. */
  chunker?: string
  /** Publish what symbolic links point to instead of the links themselves; default false. */
  followSymlinks?: boolean
}

export interface ReadOptions extends CallOptions {
  /** Byte offset to start at; default 0. */
  offset?: number
  /** Read at most this many bytes; default all. */
  length?: number
}

export interface ReadAllOptions extends ReadOptions {
  /** Fail with `ContentTooLargeError` instead of holding more than this many bytes in memory; default no limit. */
  maxBytes?: number
}

export interface DownloadOptions extends CallOptions {
  /** Replace an existing file or directory at the destination; default false (refused). */
  overwrite?: boolean
  /** Called after each piece of file content is written, with the bytes written so far (all files together). */
  onProgress?: (bytesWritten: number) => void
}

/** How a CID is pinned: by itself (`direct`), with everything below it (`recursive`), or as part of a recursive pin (`indirect`). */
export type PinType = 'recursive' | 'direct' | 'indirect'

export interface PinsOptions extends CallOptions {
  /** Only the CIDs (`string[]`) instead of `{ cid, type }` objects; default false. */
  cidsOnly?: boolean
  /** Answer from the list fetched by an earlier call when it is younger than this (ms); default 0. */
  cacheAge?: number
  /** Which pins: `recursive`, `direct`, `indirect` or `all` (default). */
  type?: PinType | 'all'
}

export interface PinnedCid {
  cid: string
  type: PinType
}

/**
 * Content: publishing files, directories and bytes, reading and downloading them, pinning.
 */
export interface Content {
  /**
   * Adds a local file or directory (a `string` path; directories recursively, resolving with the
   * directory's own CID) or content (bytes, a stream) and resolves with its CID.
   */
  publish(input: PublishInput, options?: PublishOptions): Promise<string>
  /** The CID `publish` would give for the same input and options, computed without storing anything. */
  predictCid(input: PublishInput, options?: PublishOptions): Promise<string>
  /** The whole content of a file, in memory; guard with `maxBytes` when it may be large. */
  read(cid: string, options?: ReadAllOptions): Promise<Uint8Array>
  /** A file's content in chunks, for content too large to hold in memory. */
  readStream(cid: string, options?: ReadOptions): AsyncIterable<Uint8Array>
  /**
   * Saves a file or directory (a CID or `/ipfs/…` path) at `destination`, atomically (never a
   * partial download at `destination`); resolves with the absolute path.
   */
  download(cid: string, destination: string, options?: DownloadOptions): Promise<string>
  /** Pins content (recursively) so garbage collection keeps it; fetches what is missing. */
  pin(cid: string, options?: CallOptions): Promise<void>
  /** Removes a recursive pin. */
  unpin(cid: string, options?: CallOptions): Promise<void>
  /** What this node has pinned: `{ cid, type }` objects, or CIDs with `cidsOnly`. */
  pins(options: PinsOptions & { cidsOnly: true }): Promise<string[]>
  pins(options?: PinsOptions & { cidsOnly?: false }): Promise<PinnedCid[]>
  pins(options?: PinsOptions): Promise<string[] | PinnedCid[]>
  /**
   * Unpins content (if pinned) and collects garbage; resolves with whether its root block is gone
   * (false when something else, e.g. another pin, still holds it).
   */
  remove(cid: string, options?: CallOptions): Promise<boolean>
}
