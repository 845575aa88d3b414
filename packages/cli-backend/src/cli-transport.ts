import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, createReadStream, constants as fsConstants, open as openCallback } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
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
  commandsOutput,
  filestoreLsOutput,
  filestoreVerifyOutput,
  lsOutput,
  type OutputContext,
  type OutputKind
} from './cli-output.js'
import {
  CLI_TARGET,
  DEFAULT_TIMEOUT,
  KILL_GRACE,
  OUTPUT_FILE_CHUNK,
  STDERR_LIMIT,
  TEMP_DIR_PREFIX
} from './constants.js'
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
  signal?: NodeJS.Signals | null
  error?: Error
}

/** `fs.open` that hands back the bare fd: a FileHandle would close it when collected, under a socket using it. */
const openFd = promisify(openCallback)

/** Commands whose topic argument @tk/rpc sends multibase-encoded for HTTP; the CLI encodes it itself. */
const TOPIC_COMMANDS = new Set(['pubsub/pub', 'pubsub/sub', 'pubsub/peers'])

/**
 * Commands Kubo runs only in the CLI process, on the local repo (NoRemote): given `--api`, the CLI
 * refuses them ("command cannot be run on the daemon"), so they go without it.
 */
const LOCAL_COMMANDS = new Set(['key/export', 'key/rotate'])

/** Kubo's ways of saying that no daemon answers (or that the command needs one). */
const UNREACHABLE = [
  /cannot connect to the api/i,
  /must be run in online mode/i,
  /connect: connection refused/i,
  /no such host/i
]

/** The CLI's own refusals of a command line (HTTP answers these with 400 too). */
const CLIENT_ERROR = /^(unknown option|expected \d+ argument|argument ".*" is required|unknown command)/i

/** What go-ipfs-cmds prints after an error of Kubo's client kind (code 1, HTTP 400). */
const CLIENT_ERROR_HINT = /^Use '\S+ .* --help' for information about this command$/m

/**
 * Commands Kubo has removed: they only answer "removed, use …". They take no arguments, so the CLI
 * would refuse any given ("expected 0 argument(s)") before Kubo could say so; they go without.
 */
const REMOVED_COMMANDS = new Set([
  'object/data',
  'object/get',
  'object/links',
  'object/new',
  'object/put',
  'object/stat',
  'object/patch/append-data',
  'object/patch/set-data',
  'dht/findpeer',
  'dht/findprovs',
  'dht/get',
  'dht/put',
  'dht/provide'
])

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
  /** Where the command writes its output (`--output`) instead of stdout: a FIFO, or a file read after the exit. */
  #outputPath: string | undefined
  /** The read end of the FIFO at #outputPath, read while the process runs. */
  #fifoReader: net.Socket | undefined
  /** Our write end of the FIFO: holding it keeps the reader from seeing EOF before `ipfs` opens the FIFO. */
  #fifoWriter: number | undefined
  #exited = false
  /** The output has been read, abandoned, or will never be: what it needs (FIFO, file, temp dir) may go. */
  #outputReleased = false
  #cleaned: Promise<void> | undefined
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

    let child: ChildProcess
    try {
      child = spawn(this.#context.binary, argv, {
        env: this.#context.env,
        // With an output path, stdout carries only Kubo's "Saving archive to …" or `{"File": …}`.
        stdio: [stdin == null ? 'ignore' : 'pipe', this.#outputPath == null ? 'pipe' : 'ignore', 'pipe'],
        windowsHide: true
      })
    } catch (error) {
      // Refused before starting (e.g. an argument with a NUL byte): nothing runs, the rest goes.
      await this.#cleanUp()
      throw error
    }
    this.#child = child
    this.#exit = new Promise<Exit>(resolve => {
      child.once('error', error => resolve({ code: null, error }))
      child.once('close', (code, signal) => resolve({ code, signal }))
    })
    void this.#exit.then(async () => {
      this.#exited = true
      // The process's end of the FIFO closed with it; once ours is closed too, the reader gets EOF
      // after the last byte.
      this.#closeFifoWriter()
      // Output written to a path is read from there until the consumer is done with it, unless
      // the call was stopped: then nothing more is handed out.
      if (this.#outputPath == null || this.#outputReleased || this.#stopReason != null) await this.#cleanUp()
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-this.#stderrLimit)
    })
    this.#touch()
    if (stdin != null && child.stdin != null) void this.#pump(child, stdin)

    const iterator = this.#source(child)[Symbol.asyncIterator]()
    let first: IteratorResult<Uint8Array>
    try {
      first = await iterator.next()
    } catch (error) {
      // A read error on a local pipe: nothing will read this call's output.
      this.stop('consumer')
      await iterator.return?.()
      await this.#exit
      await this.#cleanUp()
      throw error
    }
    if (first.done === true) {
      const error = await this.#failure(false)
      if (error != null) {
        await this.#cleanUp()
        throw error
      }
    }
    return new CliResponse(this.#adapt(this.#read(first, iterator)))
  }

  /** Where the output comes from: the FIFO as it is written, the output file once the process has exited, or stdout. */
  #source(child: ChildProcess): AsyncIterable<Uint8Array> {
    if (this.#fifoReader != null) return this.#fifoReader
    const outputPath = this.#outputPath
    if (outputPath != null) return this.#outputFileAfterExit(outputPath)
    if (child.stdout == null) throw new Error('ipfs was spawned without stdout')
    return child.stdout
  }

  /** Where no FIFO can be made: the file the process wrote, read after a successful exit. */
  async *#outputFileAfterExit(file: string): AsyncGenerator<Uint8Array> {
    const exit = await this.#exit
    if (exit?.code !== 0 || this.#stopReason != null) return
    for await (const chunk of createReadStream(file, { highWaterMark: OUTPUT_FILE_CHUNK })) {
      this.#touch()
      yield chunk as Uint8Array
    }
  }

  /** Kills the process (SIGTERM, then SIGKILL after a grace period); the first reason wins. */
  stop(reason: StopReason): void {
    this.#stopReason ??= reason
    const child = this.#child
    if (child == null || this.#exited || child.exitCode != null || child.signalCode != null) {
      // Exited, with output nobody read: closing the transport still releases it.
      if (reason === 'closed' && child != null) void this.#cleanUp()
      return
    }
    if (this.#fifoReader != null) {
      // `ipfs` may be blocked writing into a FIFO nobody reads any more, where SIGTERM's cancellation
      // never reaches it; its connection to the daemon closes with the process just the same.
      child.kill('SIGKILL')
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
    const args = REMOVED_COMMANDS.has(command) ? [] : [...(request.args ?? [])]

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
        // Kubo's CLI writes archives only with os.Create(<--output>) (Node's stdio pipes are sockets,
        // which it cannot open as /dev/stdout). The name has the suffix Kubo would otherwise append.
        options.output = await this.#makeOutputPath(options.compress === true ? 'out.tar.gz' : 'out.tar')
        this.#output = 'file'
        break
      case 'diag/profile':
        // The CLI writes the zip to a file (and prints `{"File": …}`) where HTTP streams it.
        options.output = await this.#makeOutputPath('profile.zip')
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
      case 'commands':
        this.#output = 'commands'
        break
      case 'filestore/ls':
        this.#output = 'filestore-ls'
        break
      case 'filestore/verify':
        this.#output = 'filestore-verify'
        this.#stderrLimit = Number.POSITIVE_INFINITY
        break
      case 'key/export':
        options.output = await this.#makeOutputPath('key')
        this.#output = 'file'
        break
    }
    if (TOPIC_COMMANDS.has(command) && args[0] != null) args[0] = decodeTopic(args[0])

    let body: BodyPlan | undefined
    if (request.body != null && !REMOVED_COMMANDS.has(command)) {
      body = await planBody(command, request.body, async () => await this.#makeTempDir())
      Object.assign(options, body.options)
      args.push(...body.args)
    }

    const argv = [...words]
    if (!LOCAL_COMMANDS.has(command)) {
      if (this.#context.init.api != null) argv.push(`--api=${this.#context.init.api}`)
      if (this.#context.init.apiAuth != null) argv.push(`--api-auth=${this.#context.init.apiAuth}`)
    }
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

  /**
   * A path in the temp dir for a command that writes its output to a file: a FIFO read while the
   * process writes it (bounded memory, output as it comes), or where no FIFO can be made a plain
   * file, read after the exit.
   */
  async #makeOutputPath(name: string): Promise<string> {
    const file = path.join(await this.#makeTempDir(), name)
    this.#outputPath = file
    if (!(await makeFifo(file, this.#context.env))) return file
    // Opening a FIFO blocks until the other end is opened, unless non-blocking: the read end first
    // (it may open with no writer), then our own writer, so that the reader sees no EOF before
    // `ipfs` has opened the FIFO. libuv opens both close-on-exec, so `ipfs` inherits neither.
    const reader = await openFd(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
    try {
      this.#fifoWriter = await openFd(file, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK)
    } catch (error) {
      closeSync(reader)
      throw error
    }
    // A socket reads a FIFO without blocking a thread, with backpressure: when nobody reads, the
    // pipe fills and `ipfs` waits in write(2).
    this.#fifoReader = new net.Socket({ fd: reader, readable: true, writable: false })
    return file
  }

  #closeFifoWriter(): void {
    const writer = this.#fifoWriter
    this.#fifoWriter = undefined
    if (writer != null) closeSync(writer)
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
    let ended = first.done === true
    try {
      try {
        if (!ended) {
          yield first.value
          // Once stopped (abort, timeout, close), what is still buffered is not handed out: the
          // reason is the result.
          while (this.#stopReason == null) {
            let next: IteratorResult<Uint8Array>
            try {
              next = await iterator.next()
            } catch (error) {
              // Stopping may destroy the stream under a pending read; the stop reason says why.
              if (this.#stopReason != null) break
              throw error
            }
            if (next.done === true) {
              ended = true
              break
            }
            if (this.#stopReason != null) break
            this.#touch()
            yield next.value
          }
        }
      } finally {
        if (!ended) {
          // A consumer that stops early ends the process: a subscription or a cat it no longer reads.
          this.stop('consumer')
          // Destroying stdout also lets the process's 'close' come, which waits for its stdio.
          await iterator.return?.()
        }
      }
      const error = await this.#failure(true)
      if (error != null) throw error
    } finally {
      await this.#releaseOutput()
    }
  }

  /** The consumer is done with the output: the FIFO closes, and the temp dir goes once the process has exited. */
  async #releaseOutput(): Promise<void> {
    this.#outputReleased = true
    this.#fifoReader?.destroy()
    if (this.#exited) await this.#cleanUp()
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
      case 'commands':
        return commandsOutput(chunks)
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
    return this.#errorFromStderr(exit, midStream)
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

  #errorFromStderr(exit: Exit, midStream: boolean): Error {
    const command = this.#command
    const how =
      exit.code == null
        ? `ipfs was killed by ${exit.signal ?? 'a signal'}`
        : `ipfs exited with code ${exit.code}`
    const message = kuboMessage(this.#stderr) ?? how
    if (UNREACHABLE.some(pattern => pattern.test(message))) {
      return new DaemonUnreachableError(this.#context.daemonAddress, command, message)
    }
    if (this.#request.timeout != null && /context deadline exceeded/.test(message)) {
      return new RpcTimeoutError(command, this.#request.timeout)
    }
    const client = CLIENT_ERROR.test(message) || CLIENT_ERROR_HINT.test(this.#stderr)
    // The statuses Kubo's HTTP API would answer with, for code that checks them; the message says
    // what really happened.
    return new KuboRpcError(command, midStream ? 200 : client ? 400 : 500, message, client ? 1 : 0, {
      via: how
    })
  }

  /** Releases everything the call holds; once only, however many paths get here. */
  async #cleanUp(): Promise<void> {
    this.#cleaned ??= this.#releaseAll()
    await this.#cleaned
  }

  async #releaseAll(): Promise<void> {
    clearTimeout(this.#deadlineTimer)
    clearTimeout(this.#idleTimer)
    clearTimeout(this.#killTimer)
    this.#request.signal?.removeEventListener('abort', this.#onAbort)
    this.#fifoReader?.destroy()
    this.#closeFifoWriter()
    const dir = this.#tempDir
    this.#tempDir = undefined
    try {
      if (dir != null) await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 })
    } finally {
      this.#resolveFinished()
    }
  }
}

/** Makes a FIFO (Node has no call for it); false where there is no `mkfifo` on the calls' PATH, e.g. on Windows. */
async function makeFifo(file: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  if (process.platform === 'win32') return false
  try {
    const child = spawn('mkfifo', ['-m', '600', '--', file], { env, stdio: 'ignore' })
    const [code] = (await once(child, 'close')) as [number | null]
    return code === 0
  } catch {
    // No mkfifo on PATH (ENOENT): the output goes through a plain file instead.
    return false
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
