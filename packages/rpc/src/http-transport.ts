import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Dispatcher, Pool } from 'undici'
import { type ApiEndpoint, resolveApiEndpoint } from './address.js'
import { CLOSE_GRACE, DEFAULT_CONNECTIONS, DEFAULT_IDLE_TIMEOUT, KEEP_ALIVE_TIMEOUT } from './constants.js'
import { AbortError, DaemonUnreachableError, KuboRpcError, RpcTimeoutError } from './errors.js'
import { createBoundary, encodeMultipart } from './multipart.js'
import { parseJsonOutput, parseNdjson } from './output.js'
import type { OptionValue, RpcRequest, RpcResponse, Transport } from './transport.js'

export interface HttpTransportInit {
  /** The API as a URL or multiaddr; default `IPFS_API`, then `$IPFS_PATH/api`, then `/ip4/127.0.0.1/tcp/5001`. */
  apiUrl?: string
  /** An `Authorization` header value for Kubo's `API.Authorizations`: `Bearer <secret>` or `Basic <base64>`. */
  authorization?: string
  /** Extra headers sent with every request. */
  headers?: Record<string, string>
  /**
   * How long a call may go without progress (no response headers yet, no new bytes) when it passes
   * no `timeout` of its own (ms); default 120 000. A call's `timeout` is a deadline for the whole call.
   */
  idleTimeout?: number
  /** @deprecated The old name of `idleTimeout`. */
  timeout?: number
  /** Keep-alive connections for short calls; long-lived requests have a pool of their own without a limit. */
  connections?: number
  /** Where `IPFS_API` and `IPFS_PATH` are read when `apiUrl` is not given; default `process.env`. */
  env?: NodeJS.ProcessEnv
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED'
])

/** Talks to Kubo's HTTP RPC API over a keep-alive connection pool (undici). */
export function httpTransport(init: HttpTransportInit = {}): Transport {
  return new HttpTransport(init)
}

class HttpTransport implements Transport {
  readonly target: string
  readonly #endpoint: ApiEndpoint
  /** Short calls: a bounded keep-alive pool. */
  readonly #pool: Pool
  /**
   * Long-lived requests (subscriptions, foreground tunnels, `log tail`): each holds a connection
   * for as long as it lives, so they get a pool of their own without a connection limit. In the
   * short calls' pool, enough of them (40 foreground tunnels a remote peer asked for) took every
   * connection, and `id`, or the `p2p ls` that opening a tunnel makes, waited until it timed out.
   */
  readonly #longLivedPool: Pool
  readonly #headers: Record<string, string>
  readonly #idleTimeout: number
  #closing: Promise<void> | undefined
  /** Open long-lived requests (subscriptions, foreground tunnels): close() ends them instead of waiting forever. */
  readonly #longLived = new Set<AbortController>()

  constructor(init: HttpTransportInit) {
    this.#endpoint = resolveApiEndpoint(init.apiUrl, init.env)
    this.target = this.#endpoint.socketPath ?? this.#endpoint.origin
    this.#idleTimeout = init.idleTimeout ?? init.timeout ?? DEFAULT_IDLE_TIMEOUT
    const authorization = init.authorization ?? this.#endpoint.authorization
    this.#headers = { ...init.headers, ...(authorization == null ? {} : { authorization }) }
    const socket = this.#endpoint.socketPath == null ? {} : { socketPath: this.#endpoint.socketPath }
    this.#pool = new Pool(this.#endpoint.origin, {
      connections: init.connections ?? DEFAULT_CONNECTIONS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT,
      ...socket
    })
    this.#longLivedPool = new Pool(this.#endpoint.origin, {
      connections: null,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT,
      ...socket
    })
  }

  async request(request: RpcRequest): Promise<RpcResponse> {
    const { command } = request
    request.signal?.throwIfAborted()
    const started = performance.now()
    const deadline =
      request.timeout == null || !Number.isFinite(request.timeout)
        ? undefined
        : AbortSignal.timeout(request.timeout)
    let closer: AbortController | undefined
    if (request.longLived === true) {
      closer = new AbortController()
      this.#longLived.add(closer)
    }
    const signals = [request.signal, deadline, closer?.signal].filter(signal => signal != null)
    const signal =
      signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals)
    // Without a caller's deadline, a call fails only when it stops making progress.
    const idleTimeout = request.longLived === true || deadline != null ? 0 : this.#idleTimeout

    const headers: Record<string, string> = { ...this.#headers }
    let body: Dispatcher.DispatchOptions['body']
    if (request.body != null) {
      const boundary = createBoundary()
      headers['content-type'] = `multipart/form-data; boundary=${boundary}`
      // A stream: the body is produced as undici sends it, so files are never held in memory.
      body = Readable.from(encodeMultipart(request.body, boundary), { objectMode: false })
    }
    const mapError = (error: unknown): Error =>
      error instanceof KuboRpcError
        ? kuboTimeout(error, request, started)
        : this.#mapError(error, request, signal, deadline, idleTimeout)

    let response: Dispatcher.ResponseData
    try {
      const pool = request.longLived === true ? this.#longLivedPool : this.#pool
      response = await pool.request({
        method: 'POST',
        path: buildPath(request),
        headers,
        body,
        signal,
        headersTimeout: idleTimeout,
        bodyTimeout: idleTimeout
      })
    } catch (error) {
      if (closer != null) this.#longLived.delete(closer)
      throw mapError(error)
    }
    if (closer != null) {
      const done = closer
      response.body.once('close', () => this.#longLived.delete(done))
    }

    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '')
      throw kuboTimeout(errorFromBody(command, response.statusCode, text), request, started)
    }
    return new HttpResponse(command, response, mapError)
  }

  async close(): Promise<void> {
    // Idempotent: `await using` after an explicit close() must not throw.
    for (const closer of this.#longLived) closer.abort(new Error('The client was closed'))
    this.#longLived.clear()
    this.#closing ??= Promise.all([closePool(this.#pool), closePool(this.#longLivedPool)]).then(() => {})
    await this.#closing
  }

  #mapError(
    error: unknown,
    request: RpcRequest,
    signal: AbortSignal | undefined,
    deadline: AbortSignal | undefined,
    idleTimeout: number
  ): Error {
    const { command } = request
    if (error instanceof KuboRpcError) return error
    if (request.signal?.aborted === true) return new AbortError(command, { cause: request.signal.reason })
    if (deadline?.aborted === true)
      return new RpcTimeoutError(command, request.timeout ?? 0, { cause: error })
    const code = (error as { code?: string }).code ?? ''
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new RpcTimeoutError(command, idleTimeout, { cause: error })
    }
    if (signal?.aborted === true) return new AbortError(command, { cause: signal.reason })
    const cause = (error as { cause?: { code?: string } }).cause
    const reason = UNREACHABLE_CODES.has(code)
      ? code
      : UNREACHABLE_CODES.has(cause?.code ?? '')
        ? (cause?.code ?? '')
        : ''
    if (reason !== '') return new DaemonUnreachableError(this.target, command, reason, { cause: error })
    return error instanceof Error ? error : new Error(String(error))
  }
}

/**
 * Kubo enforces a call's `timeout` too (`?timeout=`); when its deadline passes first, it answers
 * "context deadline exceeded" instead of our timer firing, and that is the call's timeout all the
 * same. Kubo's own shorter deadlines (a dial's) say the same words earlier: only such an error at
 * or after the call's deadline is its timeout.
 */
function kuboTimeout(error: KuboRpcError, request: RpcRequest, started: number): Error {
  if (request.timeout == null || !Number.isFinite(request.timeout)) return error
  if (!/context deadline exceeded/.test(error.kuboMessage)) return error
  if (performance.now() - started < request.timeout) return error
  return new RpcTimeoutError(request.command, request.timeout, { cause: error })
}

/** Lets requests in flight finish for a moment, then cuts off any left (e.g. a response nobody reads). */
async function closePool(pool: Pool): Promise<void> {
  const closed = pool.close().then(
    () => true,
    () => true
  )
  const closedFirst = new AbortController()
  let finished: boolean
  try {
    finished = await Promise.race([closed, sleep(CLOSE_GRACE, false, { signal: closedFirst.signal })])
  } finally {
    // Ends the grace timer of a pool that closed in time.
    closedFirst.abort()
  }
  if (!finished) await pool.destroy()
}

/** Kubo's HTTP API takes binary arguments (pubsub topics) as multibase base64url (`u…`), and nothing else for them. */
function multibase(bytes: Uint8Array): string {
  return `u${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')}`
}

function buildPath(request: RpcRequest): string {
  const params = new URLSearchParams()
  for (const arg of request.args ?? []) params.append('arg', typeof arg === 'string' ? arg : multibase(arg))
  for (const [name, value] of Object.entries(request.options ?? {})) appendOption(params, name, value)
  // Kubo enforces it too, so the daemon stops working on a call the client has given up on.
  if (request.timeout != null && Number.isFinite(request.timeout) && request.timeout > 0) {
    params.set('timeout', `${Math.ceil(request.timeout)}ms`)
  }
  const query = params.toString()
  return `/api/v0/${request.command}${query === '' ? '' : `?${query}`}`
}

function appendOption(params: URLSearchParams, name: string, value: OptionValue): void {
  if (value == null) return
  if (Array.isArray(value)) {
    for (const item of value) params.append(name, String(item))
  } else {
    params.append(name, String(value))
  }
}

function errorFromBody(command: string, status: number, text: string): KuboRpcError {
  try {
    const parsed = JSON.parse(text) as { Message?: string; Code?: number }
    if (typeof parsed.Message === 'string')
      return new KuboRpcError(command, status, parsed.Message, parsed.Code ?? 0)
  } catch {
    // Not Kubo's JSON error (a proxy, or a 404 for an unknown command): report the text itself.
  }
  const message =
    status === 404
      ? `unknown command (${text.trim() || '404 page not found'}); is this Kubo's RPC API?`
      : text.trim()
  return new KuboRpcError(command, status, message || `HTTP ${status}`)
}

class HttpResponse implements RpcResponse {
  readonly #command: string
  readonly #response: Dispatcher.ResponseData
  readonly #mapError: (error: unknown) => Error

  constructor(command: string, response: Dispatcher.ResponseData, mapError: (error: unknown) => Error) {
    this.#command = command
    this.#response = response
    this.#mapError = mapError
  }

  async text(): Promise<string> {
    let text: string
    try {
      text = await this.#response.body.text()
    } catch (error) {
      throw this.#mapError(error)
    }
    this.#checkTrailer()
    return text
  }

  async json<T>(): Promise<T> {
    return parseJsonOutput<T>(await this.text())
  }

  ndjson<T>(): AsyncGenerator<T> {
    return parseNdjson<T>(this.bytes())
  }

  async *bytes(): AsyncGenerator<Uint8Array> {
    const body = this.#response.body
    let completed = false
    try {
      for await (const chunk of body) yield chunk as Uint8Array
      completed = true
    } catch (error) {
      throw this.#mapError(error)
    } finally {
      // A consumer that stops early must not leave the connection half-read: closing it frees the socket.
      if (!completed) body.destroy()
    }
    this.#checkTrailer()
  }

  async drain(): Promise<void> {
    for await (const _ of this.bytes()) {
      // Discard: the command's output carries nothing the caller needs.
    }
  }

  #checkTrailer(): void {
    const trailer = this.#response.trailers['x-stream-error']
    if (trailer != null && trailer !== '') {
      throw new KuboRpcError(
        this.#command,
        200,
        Array.isArray(trailer) ? trailer.join('; ') : String(trailer)
      )
    }
  }
}
