import { type ChildProcess, spawn } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DaemonNotReadyError, findIpfsBinary, waitForDaemonReady } from '@tk/kubo-process'
import {
  AbortError,
  createKuboClient,
  httpTransport,
  InvalidArgumentError,
  KuboRpcError,
  RpcTimeoutError
} from '@tk/rpc'
import { httpAuthorization } from './backend.js'
import type { ApiContext } from './context.js'
import type { CallOptions } from './options.js'

/** How long a daemon may take to print "Daemon is ready" (ms); a cold start on a busy machine takes seconds. */
const DEFAULT_START_TIMEOUT = 60_000
/** How long `stop()` waits after SIGTERM before SIGKILL (ms); Kubo flushes its datastore on the way out. */
const DEFAULT_STOP_GRACE = 10_000
/** How long an aborted start waits after SIGTERM before SIGKILL (ms): nothing worth flushing yet. */
const ABORT_KILL_GRACE = 3_000
/** How long asking whether a daemon already answers may take (ms). */
const PROBE_TIMEOUT = 2_000
/** How much of a process's output is kept for error messages (characters). */
const OUTPUT_TAIL = 16 * 1024

const API_LINE = /RPC API server listening on (\S+)/

/** Config keys set to `true` before the start, unless the option says otherwise. */
const FEATURE_KEYS = {
  streamMounting: ['Experimental', 'Libp2pStreamMounting'],
  pubsub: ['Pubsub', 'Enabled']
} as const

export interface StartDaemonOptions extends CallOptions {
  /** The repo; default the instance's `repoPath`, then `IPFS_PATH`, then `~/.ipfs`. */
  repoPath?: string
  /** The `ipfs` executable; default the instance's `binary`, then `KUBO_BINARY`, then `ipfs` on PATH. */
  binary?: string
  /** Run `ipfs init` first when the repo does not exist yet. */
  init?: boolean
  /** Profiles for that `ipfs init`, comma-separated as Kubo takes them (e.g. `test`, `lowpower`). */
  initProfile?: string
  /** Turn on `Experimental.Libp2pStreamMounting` (tunnels) in the repo's config when off; default true. */
  streamMounting?: boolean
  /** Turn on `Pubsub.Enabled` in the repo's config when off; default true. */
  pubsub?: boolean
  /** Extra `ipfs daemon` flags, e.g. `['--enable-gc']`. */
  args?: readonly string[]
}

export interface StopDaemonOptions {
  /** How long to wait after SIGTERM before SIGKILL (ms); default 10 000. */
  killGrace?: number
  /** @deprecated The old name of `killGrace`. */
  timeout?: number
}

/** A daemon that was already running: this handle does not own it, so `stop()` does nothing. */
export interface ExistingDaemon extends AsyncDisposable {
  readonly started: false
  /** Where it answered, as a multiaddr (or the instance's `api` option as given). */
  readonly apiAddress: string
  /** Does nothing: the daemon belongs to whoever started it. */
  stop(): Promise<void>
}

/** A daemon this process started; it is stopped by `stop()`, `await using`, or when this process exits. */
export interface StartedDaemon extends AsyncDisposable {
  readonly started: true
  readonly pid: number
  /** The RPC API as a multiaddr, e.g. `/ip4/127.0.0.1/tcp/5001`. */
  readonly apiAddress: string
  readonly repoPath: string
  /** Whether the process is still running. */
  readonly running: boolean
  /** Sends SIGTERM, then SIGKILL after `killGrace` ms; resolves once the process has exited. Idempotent. */
  stop(options?: StopDaemonOptions): Promise<void>
}

export type DaemonHandle = ExistingDaemon | StartedDaemon

/** `ipfs init`, `ipfs config` or `ipfs daemon` failed before the daemon was ready. */
export class DaemonStartError extends Error {
  static override readonly name = 'DaemonStartError'
  override readonly name = 'DaemonStartError'
  readonly isRetryable = false
  /** What the process printed on stderr (its last 16 KiB), or on stdout when stderr was empty. */
  readonly stderr: string
  /** Its exit code; `null` when a signal ended it or it never ran. */
  readonly exitCode: number | null

  constructor(message: string, stderr: string, exitCode: number | null, options?: ErrorOptions) {
    super(stderr.trim() === '' ? message : `${message}: ${stderr.trim()}`, options)
    this.stderr = stderr
    this.exitCode = exitCode
  }
}

/** Starting and stopping a local Kubo daemon. */
export function createDaemonFunctions(context: ApiContext) {
  /**
   * Where a daemon already answers, if one does: for a repo named in the call, at that repo's api
   * file; else where this instance looks (its `api`, `IPFS_API`, then the repo's api file).
   */
  const answeringApi = async (
    repoPath: string,
    repoNamedInCall: boolean,
    signal: AbortSignal
  ): Promise<string | undefined> => {
    const fromEnvironment = process.env.IPFS_API === '' ? undefined : process.env.IPFS_API
    const address = repoNamedInCall
      ? await readApiFile(repoPath)
      : (context.options.api ?? fromEnvironment ?? (await readApiFile(repoPath)))
    if (address == null) return undefined
    const transport = httpTransport({
      apiUrl: address,
      authorization: httpAuthorization(context.options.authorization),
      timeout: PROBE_TIMEOUT
    })
    try {
      await createKuboClient({ transport }).version({ signal, timeout: PROBE_TIMEOUT })
      return address
    } catch (error) {
      // A refusal (e.g. API.Authorizations without our secret) still means a daemon is there.
      if (error instanceof KuboRpcError) return address
      return undefined
    } finally {
      await transport.close()
    }
  }

  return {
    /**
     * Starts `ipfs daemon` on a repo unless a daemon already answers there, and resolves once its
     * RPC API listens. Turns on stream mounting and pubsub in the repo's config first (see the
     * options); rejects with `DaemonStartError` (carrying Kubo's stderr) when the daemon exits
     * early, and kills it when `signal` aborts or `timeout` (ms, default 60 000) passes.
     */
    startDaemon: async (options: StartDaemonOptions = {}): Promise<DaemonHandle> => {
      const callerSignal = options.signal
      const abortError = (): AbortError => new AbortError('ipfs daemon', { cause: callerSignal?.reason })
      const callerAborted = (): boolean => callerSignal?.aborted === true
      if (callerAborted()) throw abortError()
      const timeout = options.timeout ?? DEFAULT_START_TIMEOUT
      if (typeof timeout !== 'number' || !(timeout > 0))
        throw new InvalidArgumentError('timeout', `expected a positive number of ms, got ${String(timeout)}`)
      const repoPath = path.resolve(options.repoPath ?? context.options.repoPath ?? defaultRepoPath())
      const binary = findIpfsBinary(options.binary ?? context.options.binary, process.env)
      // Number.MAX_SAFE_INTEGER and Infinity both mean "no deadline": AbortSignal.timeout takes neither.
      const deadline = AbortSignal.timeout(Math.min(timeout, 2 ** 31 - 1))
      const signal = callerSignal == null ? deadline : AbortSignal.any([callerSignal, deadline])
      const env: NodeJS.ProcessEnv = { ...process.env, IPFS_PATH: repoPath }

      try {
        const existing = await answeringApi(repoPath, options.repoPath != null, signal)
        if (existing != null) return existingDaemon(existing)
        signal.throwIfAborted()

        let initialized = await isInitialized(repoPath)
        if (!initialized && options.init === true) {
          const profile = options.initProfile == null ? [] : [`--profile=${options.initProfile}`]
          await runToEnd(binary, ['init', ...profile], env, signal)
          initialized = true
        }
        // Without a repo there is nothing to configure; the daemon then says what is missing.
        if (initialized) await enableFeatures(binary, repoPath, env, options, signal)

        const daemon = await spawnDaemon(binary, repoPath, env, options.args ?? [], signal)
        // The instance may have looked up an HTTP address before this daemon wrote its api file;
        // the next call looks again. (The CLI reads the api file on every call.)
        context.transport.refresh()
        return daemon
      } catch (error) {
        if (callerAborted()) throw abortError()
        if (deadline.aborted) throw new RpcTimeoutError('ipfs daemon', timeout, { cause: error })
        throw error
      }
    }
  }
}

function existingDaemon(apiAddress: string): ExistingDaemon {
  const stop = async (): Promise<void> => {
    // Not ours to stop: it was running before this handle existed.
  }
  return { started: false, apiAddress, stop, [Symbol.asyncDispose]: stop }
}

function defaultRepoPath(): string {
  const fromEnv = process.env.IPFS_PATH
  return fromEnv != null && fromEnv !== '' ? fromEnv : path.join(os.homedir(), '.ipfs')
}

async function readApiFile(repoPath: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path.join(repoPath, 'api'), 'utf8')).trim()
    return text === '' ? undefined : text
  } catch {
    // No api file: no daemon has announced itself in this repo.
    return undefined
  }
}

async function isInitialized(repoPath: string): Promise<boolean> {
  try {
    await stat(path.join(repoPath, 'config'))
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // Anything but "not there" (e.g. EACCES) is for the daemon to report in its own words.
    return !(code === 'ENOENT' || code === 'ENOTDIR')
  }
}

/** Sets the features the toolkit relies on to `true` in the repo's config, where they are not already. */
async function enableFeatures(
  binary: string,
  repoPath: string,
  env: NodeJS.ProcessEnv,
  options: StartDaemonOptions,
  signal: AbortSignal
): Promise<void> {
  let config: unknown
  try {
    config = JSON.parse(await readFile(path.join(repoPath, 'config'), 'utf8'))
  } catch {
    // An unreadable config is the daemon's to report, with Kubo's own message.
    return
  }
  for (const [feature, keys] of Object.entries(FEATURE_KEYS)) {
    if (options[feature as keyof typeof FEATURE_KEYS] === false) continue
    const value = keys.reduce<unknown>(
      (object, key) =>
        typeof object === 'object' && object != null ? (object as Record<string, unknown>)[key] : undefined,
      config
    )
    if (value !== true) await runToEnd(binary, ['config', '--json', keys.join('.'), 'true'], env, signal)
  }
}

/** Runs a short `ipfs` command; rejects with its stderr when it fails, kills it when `signal` aborts. */
async function runToEnd(
  binary: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  signal: AbortSignal
): Promise<void> {
  signal.throwIfAborted()
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = new OutputTail(child)
  const onAbort = (): void => {
    child.kill('SIGKILL')
  }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const { code, error } = await closed(child)
    signal.throwIfAborted()
    if (error != null) throw new DaemonStartError(`Could not run ${binary}`, '', null, { cause: error })
    if (code !== 0) {
      throw new DaemonStartError(`\`ipfs ${args.join(' ')}\` failed (exit code ${code})`, output.text, code)
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Keeps the last part of a process's stderr (and its stdout, for when stderr says nothing). */
class OutputTail {
  #stderr = ''
  #stdout = ''

  constructor(child: ChildProcess) {
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-OUTPUT_TAIL)
    })
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout = (this.#stdout + chunk).slice(-OUTPUT_TAIL)
    })
  }

  get text(): string {
    return this.#stderr.trim() === '' ? this.#stdout : this.#stderr
  }
}

/** Resolves when the process and its output pipes have closed, or it could not be spawned. */
async function closed(child: ChildProcess): Promise<{ code: number | null; error?: Error }> {
  return await new Promise(resolve => {
    child.once('close', (code: number | null) => resolve({ code }))
    child.once('error', (error: Error) => resolve({ code: null, error }))
  })
}

/** Daemons started here; they are told to stop when this process exits, so none is left behind. */
const ownDaemons = new Set<ChildProcess>()
let exitHookInstalled = false

function own(child: ChildProcess): void {
  ownDaemons.add(child)
  child.once('exit', () => ownDaemons.delete(child))
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const daemon of ownDaemons) daemon.kill('SIGTERM')
  })
}

async function spawnDaemon(
  binary: string,
  repoPath: string,
  env: NodeJS.ProcessEnv,
  args: readonly string[],
  signal: AbortSignal
): Promise<StartedDaemon> {
  signal.throwIfAborted()
  const child = spawn(binary, ['daemon', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = new OutputTail(child)
  const exit = closed(child)
  if (child.pid != null) own(child)
  const running = (): boolean => child.pid != null && child.exitCode == null && child.signalCode == null

  let stopping: Promise<void> | undefined
  const stop = async (grace: number): Promise<void> => {
    stopping ??= (async () => {
      if (!running()) return
      // Held again while stopping, so an awaited stop() keeps this process alive until the daemon is gone.
      child.ref()
      child.kill('SIGTERM')
      const exitedFirst = new AbortController()
      try {
        const graceOver = sleep(grace, 'grace over' as const, { signal: exitedFirst.signal })
        if ((await Promise.race([exit, graceOver])) === 'grace over') child.kill('SIGKILL')
      } finally {
        // Ends the grace timer of a daemon that exited in time.
        exitedFirst.abort()
      }
      await exit
    })()
    await stopping
  }

  try {
    const banner = await waitForDaemonReady(child, { signal }).catch((error: unknown) => {
      if (!(error instanceof DaemonNotReadyError)) throw error
      if (error.reason === 'aborted') throw error.cause
      if (error.reason === 'spawn-failed')
        throw new DaemonStartError(`Could not run ${binary}`, '', null, { cause: error.cause })
      throw new DaemonStartError(error.message, output.text, error.exitCode)
    })
    // Kubo prints "Daemon is ready" after its API listener is open, so the API answers from here on.
    // The api file has 0.0.0.0 rewritten to a dialable loopback address; the banner line has not.
    const apiAddress = (await readApiFile(repoPath)) ?? API_LINE.exec(banner)?.[1]
    if (apiAddress == null) {
      throw new DaemonStartError(
        '`ipfs daemon` serves no RPC API (Addresses.API is empty), so it cannot be used from here',
        '',
        null
      )
    }
    // From here the daemon lives on its own: it must not keep this process alive, and the exit hook stops it.
    child.unref()
    for (const stream of [child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.()
    const close = async (stopOptions: StopDaemonOptions = {}): Promise<void> =>
      await stop(stopOptions.killGrace ?? stopOptions.timeout ?? DEFAULT_STOP_GRACE)
    return {
      started: true,
      pid: child.pid ?? -1,
      apiAddress,
      repoPath,
      get running() {
        return running()
      },
      stop: close,
      [Symbol.asyncDispose]: async () => await close()
    }
  } catch (error) {
    await stop(ABORT_KILL_GRACE)
    throw error
  }
}
