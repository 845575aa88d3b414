/**
 * The seam between the typed client and the wire. The client turns each method call into one
 * {@link RpcRequest}; a transport carries it to Kubo (over HTTP here; through the `ipfs` CLI in
 * @tk/cli-backend) and hands back the output in the shape the command produces. Errors are the
 * classes in errors.ts whatever the transport.
 */

/** A positional argument: text, or a binary value (see {@link RpcRequest.args}). */
export type Argument = string | Uint8Array

/** A value of a Kubo option; arrays repeat the option. */
export type OptionValue = string | number | boolean | bigint | readonly string[] | undefined

export interface RpcRequest {
  /** The command path, words joined by `/`: `swarm/peers`, `pin/remote/service/add`. */
  command: string
  /**
   * Positional arguments, in order. A `Uint8Array` is a binary value (a pubsub topic): each
   * transport writes it its own way (HTTP as multibase base64url, the CLI as the UTF-8 text it holds).
   */
  args?: readonly Argument[]
  /** Kubo's options by their Kubo names (kebab-case), e.g. `{ 'cid-version': 1 }`. */
  options?: Readonly<Record<string, OptionValue>>
  /** Files or data sent with the command (`add`, `block/put`, `pubsub/pub`, …). */
  body?: RequestBody
  signal?: AbortSignal
  /** Deadline for the whole call, including a streamed response (ms). */
  timeout?: number
  /** A call that may stay open indefinitely (pubsub sub, p2p --foreground): no default timeout, no idle timeout. */
  longLived?: boolean
}

/** What a command's body holds: entries of a file tree, sent in order (directories before their content). */
export type RequestBody = Iterable<BodyEntry> | AsyncIterable<BodyEntry>

export type BodyEntry = FileEntry | DirectoryEntry | SymlinkEntry

export interface FileEntry {
  kind: 'file'
  /** Path inside the tree, `/`-separated, e.g. `photos/cat.jpg`; a bare name for a single file. */
  path: string
  content: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  mode?: number
  mtime?: Date
  /** Where the file lives on disk; Kubo needs it to reference the file instead of copying it (`nocopy`). */
  absolutePath?: string
}

export interface DirectoryEntry {
  kind: 'directory'
  path: string
  mode?: number
  mtime?: Date
}

export interface SymlinkEntry {
  kind: 'symlink'
  path: string
  target: string
}

/** A response; read it once, in the shape the command produces. */
export interface RpcResponse {
  /** One JSON value (most commands). */
  json<T>(): Promise<T>
  /** A stream of JSON values, one per line (`X-Chunked-Output`). Mid-stream errors are thrown by the iterator. */
  ndjson<T>(): AsyncIterable<T>
  /** Raw bytes (`cat`, `get`, `block/get`, …). Mid-stream errors are thrown by the iterator. */
  bytes(): AsyncIterable<Uint8Array>
  /** The whole body as text. */
  text(): Promise<string>
  /** Reads and discards the body (for commands whose output carries nothing), surfacing errors. */
  drain(): Promise<void>
}

export interface Transport {
  /** Where requests go, for messages: `http://127.0.0.1:5001`, `ipfs (CLI)`. */
  readonly target: string
  request(request: RpcRequest): Promise<RpcResponse>
  /** Releases pooled connections or processes. */
  close(): Promise<void>
}
