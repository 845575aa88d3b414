import { cliTransport, KuboBinaryNotFoundError } from '@tk/cli-backend'
import { NodeClosedError } from '@tk/interface'
import {
  type CallOptions,
  DaemonUnreachableError,
  httpTransport,
  InvalidArgumentError,
  type RpcRequest,
  type RpcResponse,
  RpcTimeoutError,
  type Transport
} from '@tk/rpc'
import { NoIpfsNodeError } from './errors.js'
import type { BackendName, IpfsOptions } from './options.js'

/** How long each probe of `auto` may take before that backend counts as unreachable (ms). */
const PROBE_TIMEOUT = 5_000

/**
 * A transport that is HTTP, the CLI, or (for `auto`) whichever reaches a running daemon first
 * asked. The auto choice is made on the first call and kept while it works; when the chosen
 * backend finds no daemon, the next call chooses again (the daemon may have moved or restarted).
 */
export class BackendTransport implements Transport {
  readonly #options: IpfsOptions
  #http: Transport | undefined
  #cli: Transport | undefined
  #chosen: BackendName | undefined
  #choosing: Promise<BackendName> | undefined
  #closed = false

  constructor(options: IpfsOptions) {
    const backend = options.backend ?? 'auto'
    if (backend !== 'auto' && backend !== 'http' && backend !== 'cli') {
      throw new InvalidArgumentError(
        'backend',
        `expected 'auto', 'http' or 'cli', got ${JSON.stringify(backend)}`
      )
    }
    this.#options = options
    if (backend !== 'auto') this.#chosen = backend
  }

  get target(): string {
    if (this.#chosen == null) return 'auto (HTTP, then the ipfs CLI)'
    // Describing the target must not create the transport: an HTTP address is looked up on first use.
    const transport = this.#chosen === 'http' ? this.#http : this.#cli
    return (
      transport?.target ??
      (this.#chosen === 'http' ? (this.#options.api ?? 'HTTP (address found on first use)') : 'ipfs (CLI)')
    )
  }

  /**
   * Forgets the HTTP address found in the environment or repo (unless `api` was given), so the
   * next call looks again: after starting a daemon, which may listen elsewhere.
   */
  refresh(): void {
    if (this.#options.api == null && this.#http != null) {
      void this.#http.close()
      this.#http = undefined
    }
    if ((this.#options.backend ?? 'auto') === 'auto') this.#chosen = undefined
  }

  /** The backend in use, or `undefined` while `auto` has not chosen yet. */
  get chosen(): BackendName | undefined {
    return this.#chosen
  }

  /** Resolves the `auto` choice now (probing HTTP, then the CLI); explicit backends resolve at once. */
  async choose(options: CallOptions = {}): Promise<BackendName> {
    if (this.#chosen != null) return this.#chosen
    this.#choosing ??= this.#probe(options).finally(() => {
      this.#choosing = undefined
    })
    return await this.#choosing
  }

  /** Whether a running daemon answers on the chosen backend (choosing one if `auto`); never throws. */
  async reachesDaemon(options: CallOptions = {}): Promise<boolean> {
    try {
      const backend = await this.choose(options)
      await this.#ping(backend, options)
      return true
    } catch (error) {
      if (error instanceof DaemonUnreachableError) this.#forget(this.#chosen ?? 'http')
      return false
    }
  }

  /** One cheap call that only a running daemon answers. */
  async #ping(backend: BackendName, options: CallOptions): Promise<void> {
    // The CLI answers `version` (and `id`) without a daemon, from the repo; `swarm peers` needs one.
    const response = await this.#transport(backend).request({
      command: backend === 'http' ? 'version' : 'swarm/peers',
      signal: options.signal,
      timeout: Math.min(options.timeout ?? PROBE_TIMEOUT, PROBE_TIMEOUT)
    })
    await response.json()
  }

  async request(request: RpcRequest): Promise<RpcResponse> {
    // After close() every call says so (the interface's NodeClosedError), instead of whatever a
    // destroyed HTTP pool or an aborted CLI process would throw.
    if (this.#closed) throw new NodeClosedError(request.command)
    try {
      const backend = await this.choose({ signal: request.signal, timeout: request.timeout })
      try {
        return await this.#transport(backend).request(request)
      } catch (error) {
        if (error instanceof DaemonUnreachableError) this.#forget(backend)
        throw error
      }
    } catch (error) {
      if (this.#closed) throw new NodeClosedError(request.command, { cause: error })
      throw error
    }
  }

  /**
   * After "no daemon": `auto` chooses again on the next call, and an HTTP address found in the
   * environment or the repo's `api` file is looked up again (a restarted daemon may have a new port).
   */
  #forget(backend: BackendName): void {
    if ((this.#options.backend ?? 'auto') === 'auto') this.#chosen = undefined
    if (backend === 'http' && this.#options.api == null && this.#http != null) {
      void this.#http.close()
      this.#http = undefined
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([this.#http?.close(), this.#cli?.close()])
  }

  #transport(backend: BackendName): Transport {
    if (backend === 'http') {
      this.#http ??= httpTransport({
        apiUrl: this.#options.api,
        env:
          this.#options.repoPath == null ? undefined : { ...process.env, IPFS_PATH: this.#options.repoPath },
        authorization: httpAuthorization(this.#options.authorization),
        idleTimeout: this.#options.idleTimeout ?? this.#options.timeout
      })
      return this.#http
    }
    this.#cli ??= cliTransport({
      binary: this.#options.binary,
      api: this.#options.api == null ? undefined : cliApiAddress(this.#options.api),
      apiAuth: this.#options.authorization,
      repoPath: this.#options.repoPath,
      idleTimeout: this.#options.idleTimeout ?? this.#options.timeout
    })
    return this.#cli
  }

  async #probe(options: CallOptions): Promise<BackendName> {
    const tried: string[] = []
    for (const backend of ['http', 'cli'] as const) {
      try {
        await this.#ping(backend, options)
        this.#chosen = backend
        return backend
      } catch (error) {
        options.signal?.throwIfAborted()
        if (error instanceof DaemonUnreachableError) this.#forget(backend)
        const reason =
          error instanceof RpcTimeoutError
            ? `no answer within ${PROBE_TIMEOUT} ms`
            : error instanceof DaemonUnreachableError
              ? 'no daemon answered'
              : error instanceof KuboBinaryNotFoundError
                ? `no ipfs executable (tried ${error.tried.join(', ')})`
                : (error as Error).message
        tried.push(`${backend === 'http' ? 'HTTP' : 'CLI'} ${this.#describe(backend)}: ${reason}`)
      }
    }
    throw new NoIpfsNodeError(tried)
  }

  #describe(backend: BackendName): string {
    try {
      return this.#transport(backend).target
    } catch {
      return backend === 'http' ? (this.#options.api ?? 'default API address') : 'ipfs'
    }
  }
}

/**
 * Kubo's `API.Authorizations` secrets read `bearer:<token>` or `basic:<user>:<password>`; the CLI
 * takes them as they are, HTTP as an `Authorization` header. A value that is already a header passes.
 */
export function httpAuthorization(secret: string | undefined): string | undefined {
  if (secret == null) return undefined
  const bearer = /^bearer:(.*)$/i.exec(secret)
  if (bearer != null) return `Bearer ${bearer[1]}`
  const basic = /^basic:(.*)$/i.exec(secret)
  if (basic != null) return `Basic ${Buffer.from(basic[1] ?? '').toString('base64')}`
  return secret
}

/** The CLI's `--api` takes a multiaddr; an `http://host:port` URL is turned into one. */
function cliApiAddress(api: string): string {
  if (!/^https?:\/\//i.test(api)) return api
  const url = new URL(api)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port
  const protocol = host.includes(':') ? 'ip6' : /^[\d.]+$/.test(host) ? 'ip4' : 'dns'
  return `/${protocol}/${host}/tcp/${port}${url.protocol === 'https:' ? '/tls/http' : ''}`
}
