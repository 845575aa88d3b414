import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  AbortError,
  DaemonUnreachableError,
  type FileEntry,
  InvalidArgumentError,
  KuboRpcError,
  type OptionValue,
  parseJsonOutput,
  parseNdjson,
  type RpcRequest,
  type RpcResponse,
  RpcTimeoutError,
  type Transport
} from '@tk/rpc'
import { type BodyPlan, planBody } from './cli-body.js'
import {
  addOutput,
  bandwidthOutput,
  blockRmOutput,
  cidFormatOutput,
  filestoreLsOutput,
  filestoreVerifyOutput,
  lsOutput,
  type OutputContext,
  type OutputKind
} from './cli-output.js'
import { CLI_TARGET, DEFAULT_TIMEOUT, KILL_GRACE, STDERR_LIMIT, TEMP_DIR_PREFIX } from './constants.js'
import { KuboBinaryNotFoundError } from './errors.js'
import { findIpfsBinary } from './kubo-binary.js'

export interface CliTransportInit {
  /** The `ipfs` executable; default `KUBO_BINARY`, then `ipfs` on `PATH`. */
  binary?: string
  /**
   * The daemon's API as a multiaddr (`--api`), e.g. `/ip4/127.0.0.1/tcp/5001`. Default: the `api`
   * file in the repo, and with no daemon running the CLI works on the repo itself (offline).
   */
  api?: string
  /** `--api-auth`: a secret from the daemon's `API.Authorizations`. */
  apiAuth?: string
  /** The repo (`IPFS_PATH`); default the environment's `IPFS_PATH`, else `~/.ipfs`. */
  repoPath?: string
  /** Environment for every `ipfs` process, over `process.env`; `KUBO_BINARY` and `PATH` here also pick the binary. */
  env?: Record<string, string | undefined>
  /** How long a call may go without progress, unless it passes its own `timeout` (ms). */
  timeout?: number
}

/**
 * A {@link Transport} that runs each request as `ipfs <command words> --<options> --enc=json --
 * <args>`, so `createKuboClient({ transport: cliTransport() })` offers every command of @tk/rpc.
 * Processes are spawned with argument arrays (no shell), bodies go through stdin or a temp dir,
 * output is streamed, and errors are @tk/rpc's classes.
 */
export function cliTransport(init: CliTransportInit = {}): Transport {
  return new CliTransport(init)
}

class CliTransport implements Transport {
  readonly target: string
  readonly #binary: string
  readonly #env: NodeJS.ProcessEnv
  readonly #init: CliTransportInit
  readonly #running = new Set<CliCall>()
  #closed = false

  constructor(init: CliTransportInit) {
    if (init.timeout != null && !(init.timeout > 0)) {
      throw new InvalidArgumentError('timeout', `expected a positive number of ms, got ${init.timeout}`)
    }
    this.#init = init
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const [name, value] of Object.entries(init.env ?? {})) {
      if (value === undefined) delete env[name]
      else env[name] = value
    }
    if (init.repoPath != null) env.IPFS_PATH = init.repoPath
    this.#env = env
    this.#binary = findIpfsBinary(init.binary, env)
    this.target =
      init.api ?? (init.repoPath == null ? CLI_TARGET : `${CLI_TARGET} IPFS_PATH=${init.repoPath}`)
  }

  /** Where an unreachable daemon was looked for, for messages. */
  get #daemonAddress(): string {
    return this.#init.api ?? `the daemon of IPFS_PATH=${this.#env.IPFS_PATH ?? '~/.ipfs'}`
  }

  async request(request: RpcRequest): Promise<RpcResponse> {
    request.signal?.throwIfAborted()
    if (this.#closed) {
      throw new AbortError(request.command, { cause: new Error('The CLI transport was closed') })
    }
    const call = new CliCall(request, {
      binary: this.#binary,
      env: this.#env,
      init: this.#init,
      daemonAddress: this.#daemonAddress
    })
    this.#running.add(call)
    void call.finished.then(() => this.#running.delete(call))
    return await call.start()
  }

  async close(): Promise<void> {
    // Idempotent: `await using` after an explicit close() must not throw.
    this.#closed = true
    const calls = [...this.#running]
    for (const call of calls) call.stop('closed')
    await Promise.all(calls.map(async call => await call.finished))
  }
}

interface CallContext {
  binary: string
  env: NodeJS.ProcessEnv
  init: CliTransportInit
  daemonAddress: string
}

type StopReason = 'abort' | 'deadline' | 'idle' | 'closed' | 'consumer' | 'body'

interface Exit {
  code: number | null
  error?: Error
}

/** Commands whose topic argument @tk/rpc sends multibase-encoded for HTTP; the CLI encodes it itself. */
const TOPIC_COMMANDS = new Set(['pubsub/pub', 'pubsub/sub', 'pubsub/peers'])

/** Kubo's ways of saying that no daemon answers (or that the command needs one). */
const UNREACHABLE = [
  /cannot connect to the api/i,
  /must be run in online mode/i,
  /connect: connection refused/i,
  /no such host/i
]

const CLIENT_ERROR = /^(unknown option|expected \d+ argument|argument ".*" is required|unknown command)/i

/** One `ipfs` process: spawned, fed, read, killed on abort/timeout/close, and cleaned up after. */
class CliCall {
  readonly #request: RpcRequest
  readonly #context: CallContext
  readonly #command: string
  readonly #progressTimeout: number
  #child: ChildProcess | undefined
  #exit: Promise<Exit> | undefined
  #stopReason: StopReason | undefined
  #bodyError: unknown
  #stderr = ''
  #tempDir: string | undefined
  #output: OutputKind = 'stdout'
  /** Kubo's closing error for "some items failed, each reported in the output": not a failure of the call. */
  #partialFailure: string | undefined
  /** Commands whose stderr carries results keep all of it. */
  #stderrLimit = STDERR_LIMIT
  #outputFile: string | undefined
  #deadlineTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #killTimer: NodeJS.Timeout | undefined
  readonly #onAbort = (): void => this.stop('abort')
  #resolveFinished: () => void = () => {}
  /** Resolves once the process has exited and its temp dir is gone; never rejects. */
  readonly finished: Promise<void> = new Promise(resolve => {
    this.#resolveFinished = resolve
  })

  constructor(request: RpcRequest, context: CallContext) {
    this.#request = request
    this.#context = context
    this.#command = request.command
    // Without a caller's deadline, a call fails only when it stops making progress (as over HTTP).
    this.#progressTimeout =
      request.longLived === true || request.timeout != null ? 0 : (context.init.timeout ?? DEFAULT_TIMEOUT)
  }

  async start(): Promise<RpcResponse> {
    const request = this.#request
    request.signal?.addEventListener('abort', this.#onAbort, { once: true })
    if (request.timeout != null && Number.isFinite(request.timeout) && request.longLived !== true) {
      this.#deadlineTimer = setTimeout(() => this.stop('deadline'), request.timeout)
    }
    let argv: string[]
    let stdin: FileEntry['content'] | undefined
    try {
      ;({ argv, stdin } = await this.#prepare())
    } catch (error) {
      await this.#cleanUp()
      throw this.#stopReason == null ? error : this.#stopError(error)
    }
    if (this.#stopReason != null) {
      await this.#cleanUp()
      throw this.#stopError(undefined)
    }

    const child = spawn(this.#context.binary, argv, {
      env: this.#context.env,
      stdio: [stdin == null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      windowsHide: true
    })
    this.#child = child
    this.#exit = new Promise<Exit>(resolve => {
      child.once('error', error => resolve({ code: null, error }))
      child.once('close', code => resolve({ code }))
    })
    // An output file is read after the exit: its temp dir goes when the output has been read.
    void this.#exit.then(async () => {
      if (this.#outputFile == null) await this.#cleanUp()
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-this.#stderrLimit)
    })
    this.#touch()
    if (stdin != null && child.stdin != null) void this.#pump(child, stdin)

    const stdout = child.stdout
    if (stdout == null) throw new Error('ipfs was spawned without stdout')
    const iterator = stdout[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
    const first = await iterator.next()
    if (first.done === true) {
      const error = await this.#failure(false)
      if (error != null) {
        await this.#cleanUp()
        throw error
      }
    }
    return new CliResponse(this.#adapt(this.#read(first, iterator)))
  }

  /** Kills the process (SIGTERM, then SIGKILL after a grace period); the first reason wins. */
  stop(reason: StopReason): void {
    this.#stopReason ??= reason
    const child = this.#child
    if (child == null || child.exitCode != null || child.signalCode != null) {
      // Exited, with an output file nobody read: closing the transport still removes it.
      if (reason === 'closed' && child != null) void this.#cleanUp()
      return
    }
    child.kill('SIGTERM')
    this.#killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE)
    this.#killTimer.unref()
  }

  async #prepare(): Promise<{ argv: string[]; stdin: FileEntry['content'] | undefined }> {
    const request = this.#request
    const command = this.#command
    const words = command.split('/').filter(word => word !== '')
    if (words.length === 0) throw new InvalidArgumentError('command', 'name a command, e.g. `id`')
    const options: Record<string, OptionValue> = { ...request.options }
    const args = [...(request.args ?? [])]

    // Commands whose CLI side prints text or writes files instead of encoding JSON: see cli-output.ts.
    switch (command) {
      case 'add':
        options.progress = false
        this.#output = 'add'
        break
      case 'cat':
        options.progress = false
        break
      case 'ls':
        options.headers = false
        options.size = true
        options.long = undefined
        this.#output = 'ls'
        break
      case 'get':
        options.progress = false
        if (options.compress !== true) options.archive = true
        // Kubo's CLI writes archives only to files (Node's stdio pipes are sockets, which it cannot
        // open as /dev/stdout): the archive goes to a temp file, streamed from there after the exit.
        this.#outputFile = path.join(
          await this.#makeTempDir(),
          options.compress === true ? 'out.tar.gz' : 'out.tar'
        )
        options.output = this.#outputFile
        this.#output = 'file'
        break
      case 'block/rm':
        this.#output = 'block-rm'
        this.#partialFailure = 'some blocks not removed'
        this.#stderrLimit = Number.POSITIVE_INFINITY
        break
      case 'cid/format':
      case 'cid/base32':
        this.#output = 'cid-format'
        this.#partialFailure = 'errors while displaying some entries'
        this.#stderrLimit = Number.POSITIVE_INFINITY
        break
      case 'stats/bw':
        this.#output = 'stats-bw'
        break
      case 'filestore/ls':
        this.#output = 'filestore-ls'
        break
      case 'filestore/verify':
        this.#output = 'filestore-verify'
        this.#stderrLimit = Number.POSITIVE_INFINITY
        break
      case 'key/export':
        this.#outputFile = path.join(await this.#makeTempDir(), 'key')
        options.output = this.#outputFile
        this.#output = 'file'
        break
    }
    if (TOPIC_COMMANDS.has(command) && args[0] != null) args[0] = decodeTopic(args[0])

    let body: BodyPlan | undefined
    if (request.body != null) {
      body = await planBody(command, request.body, async () => await this.#makeTempDir())
      Object.assign(options, body.options)
      args.push(...body.args)
    }

    const argv = [...words]
    if (this.#context.init.api != null) argv.push(`--api=${this.#context.init.api}`)
    if (this.#context.init.apiAuth != null) argv.push(`--api-auth=${this.#context.init.apiAuth}`)
    for (const [name, value] of Object.entries(options)) argv.push(...formatOption(name, value))
    if (options.enc == null && options.encoding == null) argv.push('--enc=json')
    if (request.timeout != null && Number.isFinite(request.timeout) && request.timeout > 0) {
      // Kubo enforces it too, so the daemon stops working on a call we have given up on.
      argv.push(`--timeout=${Math.ceil(request.timeout)}ms`)
    }
    // Everything after `--` is positional to go-ipfs-cmds' parser, so an argument like `-k` stays one.
    argv.push('--', ...args)
    return { argv, stdin: body?.stdin }
  }

  async #makeTempDir(): Promise<string> {
    this.#tempDir ??= await fs.mkdtemp(path.join(os.tmpdir(), TEMP_DIR_PREFIX))
    return this.#tempDir
  }

  /** Streams the body into stdin, with backpressure; a failing body kills the process. */
  async #pump(child: ChildProcess, content: FileEntry['content']): Promise<void> {
    const stdin = child.stdin
    if (stdin == null) return
    // EPIPE when the process exits before reading everything: its exit status says why.
    stdin.on('error', () => {})
    try {
      const chunks = content instanceof Uint8Array ? [content] : content
      for await (const chunk of chunks) {
        if (stdin.destroyed || this.#stopReason != null) return
        this.#touch()
        if (!stdin.write(chunk)) await Promise.race([once(stdin, 'drain'), this.#exit])
      }
      stdin.end()
    } catch (error) {
      this.#bodyError = error
      this.stop('body')
    }
  }

  /** Progress: restarts the idle timer. */
  #touch(): void {
    if (this.#progressTimeout <= 0) return
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => this.stop('idle'), this.#progressTimeout)
  }

  async *#read(
    first: IteratorResult<Uint8Array>,
    iterator: AsyncIterator<Uint8Array>
  ): AsyncGenerator<Uint8Array> {
    let completed = false
    try {
      if (first.done !== true) {
        yield first.value
        for (;;) {
          const next = await iterator.next()
          if (next.done === true) break
          this.#touch()
          yield next.value
        }
      }
      completed = true
    } finally {
      // A consumer that stops early ends the process: a subscription or a cat it no longer reads.
      if (!completed) {
        this.stop('consumer')
        await iterator.return?.()
      }
    }
    try {
      const error = await this.#failure(true)
      if (error != null) throw error
      if (this.#outputFile != null) {
        for await (const chunk of createReadStream(this.#outputFile, { highWaterMark: 256 * 1024 })) {
          yield chunk as Uint8Array
        }
      }
    } finally {
      if (this.#outputFile != null) await this.#cleanUp()
    }
  }

  #adapt(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    const context: OutputContext = {
      args: this.#request.args ?? [],
      options: this.#request.options ?? {},
      stderrLines: () => this.#stderrLines()
    }
    switch (this.#output) {
      case 'add':
        return addOutput(chunks)
      case 'ls':
        return lsOutput(chunks, context.args)
      case 'block-rm':
        return blockRmOutput(chunks, context)
      case 'cid-format':
        return cidFormatOutput(chunks, context)
      case 'stats-bw':
        return bandwidthOutput(chunks)
      case 'filestore-ls':
        return filestoreLsOutput(chunks)
      case 'filestore-verify':
        return filestoreVerifyOutput(chunks, context)
      default:
        return chunks
    }
  }

  /** stderr's lines without the closing `Error: …` of a partial failure (what some commands report items on). */
  #stderrLines(): string[] {
    const stderrLines = this.#stderr.split('\n').filter(line => line !== '')
    if (this.#partialFailure != null && stderrLines.at(-1) === `Error: ${this.#partialFailure}`)
      stderrLines.pop()
    return stderrLines
  }

  /** Waits for the exit and says how the call failed, if it did. */
  async #failure(midStream: boolean): Promise<Error | undefined> {
    const exit = await (this.#exit ?? Promise.resolve<Exit>({ code: 0 }))
    if (this.#stopReason === 'consumer') return undefined
    if (this.#stopReason != null) return this.#stopError(exit.error)
    if (exit.error != null) {
      const code = (exit.error as NodeJS.ErrnoException).code ?? exit.error.message
      return new KuboBinaryNotFoundError([`${this.#context.binary} (${code})`], { cause: exit.error })
    }
    if (exit.code === 0) return undefined
    // Each failed item is in the output already (see #stderrLines), as over HTTP.
    const lastLine = this.#stderr.trimEnd().split('\n').at(-1)
    if (this.#partialFailure != null && lastLine === `Error: ${this.#partialFailure}`) return undefined
    // The file-writing commands' output file is read after exit; nothing is left to do on success.
    return this.#errorFromStderr(exit.code, midStream)
  }

  #stopError(cause: unknown): Error {
    const command = this.#command
    switch (this.#stopReason) {
      case 'abort':
        return new AbortError(command, { cause: this.#request.signal?.reason ?? cause })
      case 'deadline':
        return new RpcTimeoutError(command, this.#request.timeout ?? 0, { cause })
      case 'idle':
        return new RpcTimeoutError(command, this.#progressTimeout, { cause })
      case 'closed':
        return new AbortError(command, { cause: new Error('The CLI transport was closed') })
      case 'body':
        return this.#bodyError instanceof Error ? this.#bodyError : new Error(String(this.#bodyError))
      default:
        return cause instanceof Error ? cause : new Error(String(cause))
    }
  }

  #errorFromStderr(code: number | null, midStream: boolean): Error {
    const command = this.#command
    const message = kuboMessage(this.#stderr) ?? `ipfs exited with code ${code}`
    if (UNREACHABLE.some(pattern => pattern.test(message))) {
      return new DaemonUnreachableError(this.#context.daemonAddress, command, message)
    }
    if (this.#request.timeout != null && /context deadline exceeded/.test(message)) {
      return new RpcTimeoutError(command, this.#request.timeout)
    }
    const client = CLIENT_ERROR.test(message)
    return new KuboRpcError(command, midStream ? 200 : client ? 400 : 500, message, client ? 1 : 0)
  }

  async #cleanUp(): Promise<void> {
    clearTimeout(this.#deadlineTimer)
    clearTimeout(this.#idleTimer)
    clearTimeout(this.#killTimer)
    this.#request.signal?.removeEventListener('abort', this.#onAbort)
    const dir = this.#tempDir
    this.#tempDir = undefined
    try {
      if (dir != null) await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 })
    } finally {
      this.#resolveFinished()
    }
  }
}

/** `--name=value`; booleans as `true`/`false`; arrays repeat the option; undefined is left out. */
export function formatOption(name: string, value: OptionValue): string[] {
  if (value === undefined || value === null) return []
  if (Array.isArray(value)) return value.map(item => `--${name}=${String(item)}`)
  return [`--${name}=${String(value)}`]
}

/** The topic @tk/rpc encoded as `u<base64url>` for HTTP, back to the text the CLI takes (it encodes it itself). */
function decodeTopic(arg: string): string {
  if (!arg.startsWith('u')) return arg
  const bytes = Buffer.from(arg.slice(1), 'base64url')
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (error) {
    throw new InvalidArgumentError('topic', 'the ipfs CLI takes topics as text, and this one is not UTF-8', {
      cause: error
    })
  }
  if (text.includes('\0')) {
    throw new InvalidArgumentError('topic', 'the ipfs CLI cannot take a topic containing a NUL byte')
  }
  return text
}

/** Kubo's message from the CLI's stderr: the text after `Error: `, without the help that may follow. */
export function kuboMessage(stderr: string): string | undefined {
  const start = stderr.search(/^Error: /m)
  if (start === -1) {
    const text = stderr.trim()
    return text === '' ? undefined : (text.split('\n').pop() ?? text)
  }
  const rest = stderr.slice(start + 'Error: '.length)
  const end = rest.search(/\n\s*\n|\nUse 'ipfs|\nUSAGE/)
  return (end === -1 ? rest : rest.slice(0, end)).trim()
}

/** A process's output, read once in the shape the command produces. */
class CliResponse implements RpcResponse {
  readonly #chunks: AsyncIterable<Uint8Array>

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#chunks = chunks
  }

  bytes(): AsyncIterable<Uint8Array> {
    return this.#chunks
  }

  async text(): Promise<string> {
    const decoder = new TextDecoder()
    let text = ''
    for await (const chunk of this.#chunks) text += decoder.decode(chunk, { stream: true })
    return text + decoder.decode()
  }

  async json<T>(): Promise<T> {
    return parseJsonOutput<T>(await this.text())
  }

  ndjson<T>(): AsyncGenerator<T> {
    return parseNdjson<T>(this.#chunks)
  }

  async drain(): Promise<void> {
    for await (const _ of this.#chunks) {
      // Discard: the command's output carries nothing the caller needs.
    }
  }
}
