import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DaemonNotReadyError, waitForDaemonReady } from '@tk/kubo-process'
import { killGroup, type NodeResources, sweepStaleNodes, track, untrack, writeOwner } from './cleanup.js'
import {
  DEFAULT_KILL_GRACE,
  DEFAULT_SHUTDOWN_GRACE,
  DEFAULT_START_TIMEOUT,
  NODE_DIR_PREFIX,
  STDERR_TAIL_BYTES
} from './constants.js'
import { KuboStartError } from './errors.js'
import { exec } from './exec.js'
import { findKuboBinary } from './kubo-binary.js'
import { rpc } from './rpc.js'
import { type KuboStep, StepClock } from './steps.js'

/** A JSON object deep-merged into the node's Kubo config before the daemon starts. */
export type KuboConfigPatch = { [key: string]: unknown }

export interface KuboNodeInit {
  /** The `ipfs` binary; default {@link findKuboBinary}. */
  binary?: string
  /** Deep-merged into the config after `ipfs init --profile test`, e.g. `{ Swarm: { ConnMgr: { HighWater: 50 } } }`. */
  config?: KuboConfigPatch
  /** Extra `ipfs daemon` flags, e.g. `['--enable-gc']`. */
  args?: string[]
  /** Extra `ipfs init` flags, e.g. `['--algorithm', 'rsa']`. */
  initArgs?: string[]
  /** Extra environment for `ipfs init` and the daemon. */
  env?: Record<string, string>
  /**
   * The `Authorization` header the testkit itself sends (`Bearer <secret>` / `Basic …`) when
   * `config` sets `API.Authorizations`; its secret must allow at least `/api/v0/swarm/addrs/listen`,
   * `/api/v0/swarm/connect`, `/api/v0/swarm/peers` and `/api/v0/shutdown`.
   */
  authorization?: string
  signal?: AbortSignal
  /** How long the daemon may take to become ready (ms). */
  timeout?: number
}

export interface StopOptions {
  /**
   * How long the daemon gets to exit after `ipfs shutdown` before its process group is sent
   * SIGTERM (and SIGKILL 3 s later) (ms; default 10 000). A grace, not a deadline for the call.
   */
  shutdownGrace?: number
  /** @deprecated The old name of `shutdownGrace`: everywhere else `timeout` is a deadline for the call. */
  timeout?: number
}

/** A running, disposable Kubo daemon on 127.0.0.1. Stopping it deletes its repo. */
export interface KuboNode extends AsyncDisposable {
  /** The node's peer id, e.g. `12D3KooW…`. */
  readonly peerId: string
  /** The RPC API as a URL, e.g. `http://127.0.0.1:40123`. */
  readonly apiUrl: string
  /** The RPC API as a multiaddr, e.g. `/ip4/127.0.0.1/tcp/40123`. */
  readonly apiMultiaddr: string
  /** The HTTP gateway, e.g. `http://127.0.0.1:40124`. */
  readonly gatewayUrl: string
  /** Where the node listens for peers, each ending in `/p2p/<peerId>`. */
  readonly swarmAddrs: readonly string[]
  /** The node's IPFS_PATH. */
  readonly repoPath: string
  /** The `ipfs` binary it runs. */
  readonly binary: string
  /** The daemon's process id. */
  readonly pid: number
  /** Environment that points the `ipfs` CLI at this node (`IPFS_PATH`). */
  readonly env: Readonly<Record<string, string>>
  /** Whether the daemon process is still running. */
  readonly running: boolean
  /** How long each step of starting it took (`sweep`, `binary`, `init`, `config`, `start`, `ready`). */
  readonly startSteps: readonly KuboStep[]
  /** The `Authorization` header given at creation, if any. */
  readonly authorization: string | undefined
  /**
   * Shuts the daemon down and starts it again on the same repo, peer id, API address and swarm
   * addresses (to test what happens to clients and subscriptions across a restart).
   */
  restart(options?: RestartOptions): Promise<void>
  /** Shuts the daemon down (force-killing it if it does not go) and deletes its repo. Idempotent. */
  stop(options?: StopOptions): Promise<void>
}

export interface RestartOptions extends StopOptions {
  signal?: AbortSignal
  /** How long the new daemon may take to become ready (ms). */
  startTimeout?: number
}

let swept: Promise<unknown> | undefined

/**
 * Starts a disposable Kubo daemon: a fresh repo in a temp folder; API, gateway and swarm on
 * 127.0.0.1 with OS-assigned ports; no bootstrap peers, no mDNS; stream mounting and pubsub on.
 * Stop it with `stop()` or `await using`.
 */
export async function createKuboNode(init: KuboNodeInit = {}): Promise<KuboNode> {
  const timeout = init.timeout ?? DEFAULT_START_TIMEOUT
  const signal = AbortSignal.any([
    ...(init.signal == null ? [] : [init.signal]),
    AbortSignal.timeout(timeout)
  ])
  signal.throwIfAborted()
  const clock = new StepClock()
  let binary: string
  try {
    clock.begin('sweep')
    swept ??= sweepStaleNodes().catch(() => {
      // Best effort: a folder we cannot remove is not a reason to fail this node.
    })
    await swept
    clock.begin('binary')
    binary = init.binary ?? (await findKuboBinary({ signal })).path
  } catch (error) {
    if (!signal.aborted) throw error
    throw new KuboStartError(abortMessage(signal, timeout, 'finding Kubo'), '', {
      cause: error,
      steps: clock.steps
    })
  }

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), NODE_DIR_PREFIX))
  const resources: NodeResources = { dir }
  track(resources)
  const repoPath = path.join(dir, 'repo')
  const env: Record<string, string> = { IPFS_PATH: repoPath, IPFS_TELEMETRY: 'off', ...init.env }
  const processEnv = { ...process.env, ...env }

  try {
    await writeOwner(resources)
    clock.begin('init')
    const initialized = await exec(binary, ['init', '--profile', 'test', ...(init.initArgs ?? [])], {
      env: processEnv,
      signal
    })
    if (initialized.code !== 0) {
      throw new KuboStartError(`\`ipfs init\` failed (exit code ${initialized.code})`, initialized.stderr, {
        steps: clock.steps
      })
    }
    clock.begin('config')
    const config = await configure(repoPath, init.config)
    const peerId = (config.Identity as { PeerID: string }).PeerID

    const daemonArgs = ['daemon', ...(init.args ?? [])]
    clock.begin('start')
    const daemon = await startDaemon(binary, daemonArgs, processEnv, resources, signal, clock, timeout)

    clock.begin('ready')
    const apiMultiaddr = (await fs.readFile(path.join(repoPath, 'api'), 'utf8')).trim()
    const apiUrl = multiaddrToUrl(apiMultiaddr)
    const gatewayUrl = (await fs.readFile(path.join(repoPath, 'gateway'), 'utf8')).trim()
    const authorization = init.authorization
    const listen = await rpc<{ Strings: string[] | null }>(apiUrl, 'swarm/addrs/listen', {
      signal,
      authorization
    })
    // Only directly dialable addresses: a relay listen address (`/p2p-circuit`) means nothing on loopback.
    const swarmAddrs = (listen.Strings ?? [])
      .filter(address => /^\/(ip4|ip6)\//.test(address))
      .map(address => `${address}/p2p/${peerId}`)
    clock.end()

    return new RunningKuboNode({
      startSteps: clock.steps,
      daemonArgs,
      processEnv,
      peerId,
      apiUrl,
      apiMultiaddr,
      gatewayUrl,
      swarmAddrs,
      repoPath,
      binary,
      env,
      daemon,
      resources,
      authorization
    })
  } catch (error) {
    if (resources.daemonPid != null) killGroup(resources.daemonPid, 'SIGKILL')
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 })
    untrack(resources)
    if (error instanceof KuboStartError) throw error
    const message = signal.aborted
      ? abortMessage(signal, timeout, `starting a Kubo node with ${binary}`)
      : `Starting a Kubo node with ${binary} failed: ${(error as Error).message}`
    throw new KuboStartError(message, '', { cause: error, steps: clock.steps })
  }
}

/** Why a start was cut short: its timeout (say which) or the caller's signal. */
function abortMessage(signal: AbortSignal, timeout: number, what: string): string {
  const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError'
  return timedOut
    ? `${what} did not finish within its ${timeout / 1000} s timeout`
    : `${what} was aborted: ${String((signal.reason as Error | undefined)?.message ?? signal.reason)}`
}

/** Spawns `ipfs daemon` in its own process group and resolves once it is ready. */
async function startDaemon(
  binary: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  resources: NodeResources,
  signal: AbortSignal,
  clock: StepClock,
  timeout: number
): Promise<Daemon> {
  const child = spawn(binary, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: stop() and the exit hooks kill the group, and a Ctrl-C in the
    // terminal reaches us first, so we can shut it down and delete the repo.
    detached: true
  })
  const daemon = new Daemon(child)
  if (child.pid == null) {
    throw await daemon.spawnError(clock)
  }
  resources.daemonPid = child.pid
  await writeOwner(resources)
  try {
    await daemon.ready(signal, clock, timeout)
  } catch (error) {
    killGroup(child.pid, 'SIGKILL')
    await daemon.exited
    throw error
  }
  return daemon
}

async function configure(repoPath: string, patch: KuboConfigPatch = {}): Promise<KuboConfigPatch> {
  const file = path.join(repoPath, 'config')
  const config = JSON.parse(await fs.readFile(file, 'utf8')) as KuboConfigPatch
  const merged = deepMerge(config, {
    Experimental: { Libp2pStreamMounting: true },
    Pubsub: { Enabled: true },
    Plugins: { Plugins: { telemetry: { Config: { Mode: 'off' } } } }
  })
  const final = deepMerge(merged, patch)
  await fs.writeFile(file, JSON.stringify(final, null, 2))
  return final
}

function deepMerge(target: KuboConfigPatch, patch: KuboConfigPatch): KuboConfigPatch {
  const result: KuboConfigPatch = { ...target }
  for (const [key, value] of Object.entries(patch)) {
    const current = result[key]
    result[key] = isPlainObject(value) && isPlainObject(current) ? deepMerge(current, value) : value
  }
  return result
}

function isPlainObject(value: unknown): value is KuboConfigPatch {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function multiaddrToUrl(multiaddr: string): string {
  const match = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)/.exec(multiaddr)
  if (match == null) throw new Error(`Cannot turn the API address ${multiaddr} into a URL`)
  const host = match[1] === 'ip6' ? `[${match[2]}]` : match[2]
  return `http://${host}:${match[3]}`
}

/** The daemon process: its stderr tail, readiness and exit. */
class Daemon {
  readonly child: ChildProcess
  readonly exited: Promise<void>
  #stderr = ''

  constructor(child: ChildProcess) {
    this.child = child
    this.exited = new Promise(resolve => {
      child.once('exit', () => resolve())
      // A spawn error (ENOENT, EACCES) means there never was a process.
      child.once('error', () => resolve())
    })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL_BYTES)
    })
  }

  get stderr(): string {
    return this.#stderr
  }

  get running(): boolean {
    return this.child.exitCode == null && this.child.signalCode == null
  }

  async spawnError(clock: StepClock): Promise<KuboStartError> {
    const error = await new Promise<Error>(resolve => this.child.once('error', resolve))
    return new KuboStartError(`Could not run ${this.child.spawnfile}: ${error.message}`, '', {
      cause: error,
      steps: clock.steps
    })
  }

  /** Resolves once the daemon printed "Daemon is ready"; else a {@link KuboStartError} saying how far it got. */
  async ready(signal: AbortSignal, clock: StepClock, timeout: number): Promise<void> {
    try {
      await waitForDaemonReady(this.child, { signal })
    } catch (error) {
      if (!(error instanceof DaemonNotReadyError)) throw error
      const lastLine =
        error.lastLine == null ? 'it printed nothing yet' : `its last line: "${error.lastLine}"`
      const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError'
      const what =
        error.reason !== 'aborted'
          ? error.message
          : timedOut
            ? `\`ipfs daemon\` did not print "Daemon is ready" within the node's ${timeout / 1000} s start timeout`
            : '`ipfs daemon` start was aborted'
      throw new KuboStartError(`${what}; ${lastLine}`, this.#stderr, {
        cause: error.reason === 'exited' ? undefined : error.cause,
        steps: clock.steps
      })
    }
  }
}

interface RunningKuboNodeInit {
  startSteps: KuboStep[]
  daemonArgs: string[]
  processEnv: NodeJS.ProcessEnv
  peerId: string
  apiUrl: string
  apiMultiaddr: string
  gatewayUrl: string
  swarmAddrs: string[]
  repoPath: string
  binary: string
  env: Record<string, string>
  daemon: Daemon
  resources: NodeResources
  authorization: string | undefined
}

class RunningKuboNode implements KuboNode {
  readonly peerId: string
  readonly apiUrl: string
  readonly apiMultiaddr: string
  readonly gatewayUrl: string
  readonly swarmAddrs: readonly string[]
  readonly repoPath: string
  readonly binary: string
  readonly env: Readonly<Record<string, string>>
  readonly authorization: string | undefined
  readonly startSteps: readonly KuboStep[]
  readonly #daemonArgs: string[]
  readonly #processEnv: NodeJS.ProcessEnv
  readonly #resources: NodeResources
  #daemon: Daemon
  #stopping: Promise<void> | undefined
  #restarting: Promise<void> | undefined

  constructor(init: RunningKuboNodeInit) {
    this.peerId = init.peerId
    this.apiUrl = init.apiUrl
    this.apiMultiaddr = init.apiMultiaddr
    this.gatewayUrl = init.gatewayUrl
    this.swarmAddrs = Object.freeze([...init.swarmAddrs])
    this.repoPath = init.repoPath
    this.binary = init.binary
    this.env = Object.freeze({ IPFS_PATH: init.env.IPFS_PATH ?? init.repoPath })
    this.authorization = init.authorization
    this.startSteps = Object.freeze(init.startSteps)
    this.#daemon = init.daemon
    this.#resources = init.resources
    this.#daemonArgs = init.daemonArgs
    this.#processEnv = init.processEnv
  }

  get pid(): number {
    return this.#daemon.child.pid ?? -1
  }

  get running(): boolean {
    return this.#daemon.running
  }

  async stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(shutdownGrace(options))
    await this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  async restart(options: RestartOptions = {}): Promise<void> {
    if (this.#stopping != null) throw new Error('This node has been stopped; it cannot restart')
    this.#restarting ??= this.#restart(options).finally(() => {
      this.#restarting = undefined
    })
    await this.#restarting
  }

  async #restart(options: RestartOptions): Promise<void> {
    const signal = AbortSignal.any([
      ...(options.signal == null ? [] : [options.signal]),
      AbortSignal.timeout(options.startTimeout ?? DEFAULT_START_TIMEOUT)
    ])
    await this.#halt(shutdownGrace(options))
    // The ports the OS gave the first daemon become fixed, so the node keeps its addresses.
    await configure(this.repoPath, {
      Addresses: {
        API: this.apiMultiaddr,
        Gateway: new URL(this.gatewayUrl).host.replace(/^(.*):(\d+)$/, '/ip4/$1/tcp/$2'),
        Swarm: this.swarmAddrs.map(address => address.replace(/\/p2p\/[^/]+$/, ''))
      }
    })
    const clock = new StepClock()
    clock.begin('start')
    this.#daemon = await startDaemon(
      this.binary,
      this.#daemonArgs,
      this.#processEnv,
      this.#resources,
      signal,
      clock,
      options.startTimeout ?? DEFAULT_START_TIMEOUT
    )
  }

  async #stop(grace: number): Promise<void> {
    await this.#restarting?.catch(() => {
      // A failed restart leaves no daemon; stopping still removes the repo.
    })
    await this.#halt(grace)
    await fs.rm(this.#resources.dir, { recursive: true, force: true, maxRetries: 5 })
    untrack(this.#resources)
  }

  /** Shuts the daemon down: `ipfs shutdown`, then SIGTERM, then SIGKILL. */
  async #halt(grace: number): Promise<void> {
    const daemon = this.#daemon
    if (daemon.running) {
      // Ask nicely first: Kubo flushes its datastore and releases the repo lock.
      await rpc(this.apiUrl, 'shutdown', { timeout: grace, authorization: this.authorization }).catch(() => {
        // The daemon may close the connection before answering, or already be dying; the exit wait below decides.
      })
      if (!(await exitsWithin(daemon, grace))) {
        killGroup(this.pid, 'SIGTERM')
        if (!(await exitsWithin(daemon, DEFAULT_KILL_GRACE))) {
          killGroup(this.pid, 'SIGKILL')
          await daemon.exited
        }
      }
    }
  }
}

/** The grace `ipfs shutdown` gets, from `shutdownGrace` or its deprecated alias `timeout`. */
function shutdownGrace(options: StopOptions): number {
  return options.shutdownGrace ?? options.timeout ?? DEFAULT_SHUTDOWN_GRACE
}

/** Whether the daemon exits within `ms`: the grace it gets before the next, harsher way to stop it. */
async function exitsWithin(daemon: Daemon, ms: number): Promise<boolean> {
  const exitedFirst = new AbortController()
  try {
    return await Promise.race([
      daemon.exited.then(() => true),
      sleep(ms, false, { signal: exitedFirst.signal })
    ])
  } finally {
    // Ends the grace timer of a daemon that exited in time.
    exitedFirst.abort()
  }
}
