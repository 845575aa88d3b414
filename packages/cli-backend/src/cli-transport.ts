import { findIpfsBinary } from '@tk/kubo-process'
import {
  AbortError,
  DaemonUnreachableError,
  InvalidArgumentError,
  KuboRpcError,
  RpcTimeoutError
} from '@tk/rpc'
import {
  type Argument,
  type FileEntry,
  type OptionValue,
  parseJsonOutput,
  parseNdjson,
  type RpcRequest,
  type RpcResponse,
  type Transport
} from '@tk/rpc/transport'
import { type BodyPlan, planBody } from './cli-body.js'
import { type CliCommand, cliCommand } from './cli-commands.js'
import { CallFiles } from './cli-files.js'
import { type Exit, IpfsProcess } from './cli-process.js'
import { CLI_TARGET, DEFAULT_IDLE_TIMEOUT, STDERR_LIMIT } from './constants.js'
import { KuboBinaryNotFoundError } from './errors.js'

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
  /**
   * How long a call may go without progress (no output yet, no new bytes either way) before the
   * process is killed, for calls that pass no `timeout` of their own (ms); default 120 000.
   */
  idleTimeout?: number
  /** @deprecated The old name of `idleTimeout`. */
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
  readonly #idleTimeout: number
  readonly #running = new Set<CliCall>()
  #closed = false

  constructor(init: CliTransportInit) {
    const idleTimeout = init.idleTimeout ?? init.timeout
    if (idleTimeout != null && !(idleTimeout > 0)) {
      throw new InvalidArgumentError('idleTimeout', `expected a positive number of ms, got ${idleTimeout}`)
    }
    this.#idleTimeout = idleTimeout ?? DEFAULT_IDLE_TIMEOUT
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
      idleTimeout: this.#idleTimeout,
      daemonAddress: this.#daemonAddress,
      run: async other => await this.request(other)
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
  /** See {@link CliTransportInit.idleTimeout}. */
  idleTimeout: number
  daemonAddress: string
  /** Runs another request through the same transport. */
  run: (request: RpcRequest) => Promise<RpcResponse>
}

type StopReason = 'abort' | 'deadline' | 'idle' | 'closed' | 'consumer' | 'failed'

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

/** A call's two clocks: a deadline for the whole call, and a limit on time without progress. */
class CallTimers {
  /** The limit on time without progress (ms); 0 for none. */
  readonly idleTimeout: number
  readonly #onIdle: () => void
  #deadline: NodeJS.Timeout | undefined
  #idle: NodeJS.Timeout | undefined

  /** `idleTimeout` 0: no limit on time without progress. */
  constructor(deadline: number | undefined, onDeadline: () => void, idleTimeout: number, onIdle: () => void) {
    this.idleTimeout = idleTimeout
    this.#onIdle = onIdle
    if (deadline != null && Number.isFinite(deadline)) this.#deadline = setTimeout(onDeadline, deadline)
  }

  /** Progress: restarts the idle clock. */
  touch(): void {
    if (this.idleTimeout <= 0) return
    clearTimeout(this.#idle)
    this.#idle = setTimeout(this.#onIdle, this.idleTimeout)
  }

  clear(): void {
    clearTimeout(this.#deadline)
    clearTimeout(this.#idle)
  }
}

/** One `ipfs` process: spawned, fed, read, killed on abort/timeout/close, and cleaned up after. */
class CliCall {
  readonly #request: RpcRequest
  readonly #context: CallContext
  readonly #spec: CliCommand
  readonly #timers: CallTimers
  /** The temp dir, and the file or FIFO the command writes its output to. */
  readonly #files = new CallFiles()
  /** Aborts when the call is stopped, whatever the reason. */
  readonly #stopped = new AbortController()
  #stopReason: StopReason | undefined
  /** Why the call failed on our side (its body, its live check): the call's error. */
  #failure: unknown
  #process: IpfsProcess | undefined
  /** The output has been read, abandoned, or will never be: what it needs (FIFO, file, temp dir) may go. */
  #outputReleased = false
  #cleaned: Promise<void> | undefined
  readonly #onAbort = (): void => this.stop('abort')
  #resolveFinished: () => void = () => {}
  /** Resolves once the process has exited and its temp dir is gone; never rejects. */
  readonly finished: Promise<void> = new Promise(resolve => {
    this.#resolveFinished = resolve
  })

  constructor(request: RpcRequest, context: CallContext) {
    this.#request = request
    this.#context = context
    this.#spec = cliCommand(request.command)
    const longLived = request.longLived === true
    this.#timers = new CallTimers(
      longLived ? undefined : request.timeout,
      () => this.stop('deadline'),
      // Without a caller's deadline, a call fails only when it stops making progress (as over HTTP).
      longLived || request.timeout != null ? 0 : context.idleTimeout,
      () => this.stop('idle')
    )
  }

  async start(): Promise<RpcResponse> {
    const request = this.#request
    request.signal?.addEventListener('abort', this.#onAbort, { once: true })
    let argv: string[]
    let stdin: FileEntry['content'] | undefined
    let waitLive: ((signal: AbortSignal) => Promise<void>) | undefined
    try {
      ;({ argv, stdin } = await this.#prepare())
      waitLive = await this.#spec.live?.({
        args: argv.slice(argv.indexOf('--') + 1),
        run: this.#context.run,
        signal: this.#stopped.signal
      })
    } catch (error) {
      await this.#cleanUp()
      throw this.#stopReason == null ? error : this.#stopError(error)
    }
    if (this.#stopReason != null) {
      await this.#cleanUp()
      throw this.#stopError(undefined)
    }

    let process: IpfsProcess
    try {
      process = new IpfsProcess(this.#context.binary, argv, {
        env: this.#context.env,
        stdin: stdin != null,
        // With an output path, stdout carries only Kubo's "Saving archive to …" or `{"File": …}`.
        stdout: this.#files.outputPath == null,
        // Kept whole where results are reported there.
        stderrLimit: this.#spec.resultsOnStderr === true ? Number.POSITIVE_INFINITY : STDERR_LIMIT
      })
    } catch (error) {
      // Refused before starting (e.g. an argument with a NUL byte): nothing runs, the rest goes.
      await this.#cleanUp()
      throw error
    }
    this.#process = process
    const exit = process.exit
    void exit.then(async () => {
      // The process's end of the FIFO closed with it; once ours is closed too, the reader gets EOF
      // after the last byte.
      this.#files.closeFifoWriter()
      // Output written to a path is read from there until the consumer is done with it, unless
      // the call was stopped: then nothing more is handed out.
      if (this.#files.outputPath == null || this.#outputReleased || this.#stopReason != null)
        await this.#cleanUp()
    })
    this.#timers.touch()
    if (stdin != null) {
      const feeding = (): boolean => {
        if (this.#stopReason != null) return false
        this.#timers.touch()
        return true
      }
      void process.feed(stdin, feeding).catch((error: unknown) => {
        this.#failure = error
        this.stop('failed')
      })
    }

    const iterator = this.#source(process, exit)[Symbol.asyncIterator]()
    const firstRead = iterator.next()
    try {
      if (waitLive != null && (await this.#untilLive(firstRead, waitLive)) === 'live') {
        return this.#respond(firstRead, iterator)
      }
      const first = await firstRead
      if (first.done === true) {
        const error = await this.#error(false)
        if (error != null) {
          await this.#cleanUp()
          throw error
        }
      }
    } catch (error) {
      // A read error on a local pipe, or a failed live check: nothing will read this call's output.
      if (this.#stopReason == null) this.stop('consumer')
      await iterator.return?.()
      await exit
      await this.#cleanUp()
      throw error
    }
    return this.#respond(firstRead, iterator)
  }

  /** Waits until the command is live or its output starts (or ends), whichever is first. */
  async #untilLive(
    firstRead: Promise<IteratorResult<Uint8Array>>,
    waitLive: (signal: AbortSignal) => Promise<void>
  ): Promise<'live' | 'output'> {
    const settled = new AbortController()
    const output = firstRead.then(
      () => 'output' as const,
      () => 'output' as const
    )
    try {
      return await Promise.race([
        output,
        waitLive(AbortSignal.any([settled.signal, this.#stopped.signal])).then(() => 'live' as const)
      ])
    } catch (error) {
      // Stopped meanwhile (abort, deadline, close): that is the call's error. (Once the output
      // has won the race, the check's end is not heard here.)
      if (this.#stopReason != null) throw this.#stopError(error)
      this.#failure = error
      this.stop('failed')
      throw error
    } finally {
      settled.abort()
    }
  }

  #respond(firstRead: Promise<IteratorResult<Uint8Array>>, iterator: AsyncIterator<Uint8Array>): RpcResponse {
    const chunks = this.#read(firstRead, iterator)
    const values = this.#spec.values
    if (values == null) return new CliResponse(chunks)
    return new CliValuesResponse(
      values(chunks, {
        args: (this.#request.args ?? []).map(arg =>
          typeof arg === 'string' ? arg : Buffer.from(arg).toString()
        ),
        options: this.#request.options ?? {},
        stderrLines: () => this.#stderrLines()
      })
    )
  }

  /** Where the output comes from: the output file or FIFO when the command writes one, else stdout. */
  #source(process: IpfsProcess, exit: Promise<Exit>): AsyncIterable<Uint8Array> {
    if (this.#files.outputPath != null) {
      return this.#files.output(
        exit.then(result => result.code === 0 && this.#stopReason == null),
        () => this.#timers.touch()
      )
    }
    if (process.stdout == null) throw new Error('ipfs was spawned without stdout')
    return process.stdout
  }

  /** Kills the process (SIGTERM, then SIGKILL after a grace period); the first reason wins. */
  stop(reason: StopReason): void {
    this.#stopReason ??= reason
    this.#stopped.abort()
    const process = this.#process
    if (process == null || process.exited) {
      // Exited, with output nobody read: closing the transport still releases it.
      if (reason === 'closed' && process != null) void this.#cleanUp()
      return
    }
    // `ipfs` may be blocked writing into a FIFO nobody reads any more, where SIGTERM's cancellation
    // never reaches it; its connection to the daemon closes with the process just the same.
    process.kill(this.#files.isFifo)
  }

  async #prepare(): Promise<{ argv: string[]; stdin: FileEntry['content'] | undefined }> {
    const request = this.#request
    const spec = this.#spec
    const words = this.#request.command.split('/').filter(word => word !== '')
    if (words.length === 0) throw new InvalidArgumentError('command', 'name a command, e.g. `id`')
    const options: Record<string, OptionValue> = { ...request.options }
    const args = spec.removed === true ? [] : (request.args ?? []).map(cliArgument)
    spec.options?.(options)
    const outputFile = spec.outputFile?.(options)
    if (outputFile != null) options.output = await this.#files.makeOutput(outputFile, this.#context.env)

    let body: BodyPlan | undefined
    if (request.body != null && spec.removed !== true) {
      body = await planBody(spec.bodyTree === true, request.body, async () => await this.#files.tempDir())
      Object.assign(options, body.options)
      args.push(...body.args)
    }

    const argv = [...words]
    if (spec.local !== true) {
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

  async *#read(
    firstRead: Promise<IteratorResult<Uint8Array>>,
    iterator: AsyncIterator<Uint8Array>
  ): AsyncGenerator<Uint8Array> {
    let ended = false
    try {
      try {
        // Once stopped (abort, timeout, close), what is still buffered is not handed out: the
        // reason is the result.
        let read = firstRead
        while (this.#stopReason == null) {
          let next: IteratorResult<Uint8Array>
          try {
            next = await read
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
          this.#timers.touch()
          yield next.value
          // Asked only while the call goes on: a read left pending when it stops would fail unheard.
          if (this.#stopReason == null) read = iterator.next()
        }
      } finally {
        if (!ended) {
          // A consumer that stops early ends the process: a subscription or a cat it no longer reads.
          this.stop('consumer')
          // Destroying stdout also lets the process's 'close' come, which waits for its stdio.
          await iterator.return?.()
        }
      }
      const error = await this.#error(true)
      if (error != null) throw error
    } finally {
      await this.#releaseOutput()
    }
  }

  /** The consumer is done with the output: the FIFO closes, and the temp dir goes once the process has exited. */
  async #releaseOutput(): Promise<void> {
    this.#outputReleased = true
    this.#files.closeFifoReader()
    if (this.#process?.exited === true) await this.#cleanUp()
  }

  /** stderr's lines without the closing `Error: …` of a partial failure (what some commands report items on). */
  #stderrLines(): string[] {
    const stderrLines = (this.#process?.stderr ?? '').split('\n').filter(line => line !== '')
    const partialFailure = this.#spec.partialFailure
    if (partialFailure != null && stderrLines.at(-1) === `Error: ${partialFailure}`) stderrLines.pop()
    return stderrLines
  }

  /** Waits for the exit and says how the call failed, if it did. */
  async #error(midStream: boolean): Promise<Error | undefined> {
    const exit = await (this.#process?.exit ?? Promise.resolve<Exit>({ code: 0 }))
    if (this.#stopReason === 'consumer') return undefined
    if (this.#stopReason != null) return this.#stopError(exit.error)
    if (exit.error != null) {
      const code = (exit.error as NodeJS.ErrnoException).code ?? exit.error.message
      return new KuboBinaryNotFoundError([`${this.#context.binary} (${code})`], { cause: exit.error })
    }
    if (exit.code === 0) return undefined
    // Each failed item is in the output already (see #stderrLines), as over HTTP.
    const lastLine = (this.#process?.stderr ?? '').trimEnd().split('\n').at(-1)
    const partialFailure = this.#spec.partialFailure
    if (partialFailure != null && lastLine === `Error: ${partialFailure}`) return undefined
    return this.#errorFromStderr(exit, midStream)
  }

  #stopError(cause: unknown): Error {
    const command = this.#request.command
    switch (this.#stopReason) {
      case 'abort':
        return new AbortError(command, { cause: this.#request.signal?.reason ?? cause })
      case 'deadline':
        return new RpcTimeoutError(command, this.#request.timeout ?? 0, { cause })
      case 'idle':
        return new RpcTimeoutError(command, this.#timers.idleTimeout, { cause })
      case 'closed':
        return new AbortError(command, { cause: new Error('The CLI transport was closed') })
      case 'failed':
        return this.#failure instanceof Error ? this.#failure : new Error(String(this.#failure))
      default:
        return cause instanceof Error ? cause : new Error(String(cause))
    }
  }

  #errorFromStderr(exit: Exit, midStream: boolean): Error {
    const command = this.#request.command
    const stderr = this.#process?.stderr ?? ''
    const how =
      exit.code == null
        ? `ipfs was killed by ${exit.signal ?? 'a signal'}`
        : `ipfs exited with code ${exit.code}`
    const message = kuboMessage(stderr) ?? how
    if (UNREACHABLE.some(pattern => pattern.test(message))) {
      return new DaemonUnreachableError(this.#context.daemonAddress, command, message)
    }
    if (this.#request.timeout != null && /context deadline exceeded/.test(message)) {
      return new RpcTimeoutError(command, this.#request.timeout)
    }
    const client = CLIENT_ERROR.test(message) || CLIENT_ERROR_HINT.test(stderr)
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
    this.#timers.clear()
    this.#request.signal?.removeEventListener('abort', this.#onAbort)
    try {
      await this.#files.remove()
    } finally {
      this.#resolveFinished()
    }
  }
}

/**
 * An argument as the CLI takes it: text. A binary value (a pubsub topic) is given as the text it
 * holds, which the CLI encodes itself; bytes that are not UTF-8 text cannot go on a command line.
 */
function cliArgument(arg: Argument): string {
  if (typeof arg === 'string') return arg
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(arg)
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

/** `--name=value`; booleans as `true`/`false`; arrays repeat the option; undefined is left out. */
export function formatOption(name: string, value: OptionValue): string[] {
  if (value === undefined || value === null) return []
  if (Array.isArray(value)) return value.map(item => `--${name}=${String(item)}`)
  return [`--${name}=${String(value)}`]
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

/** The values of a command whose CLI prints text (see cli-commands.ts), in the shapes a response is read in. */
class CliValuesResponse implements RpcResponse {
  readonly #values: AsyncIterable<unknown>

  constructor(values: AsyncIterable<unknown>) {
    this.#values = values
  }

  async json<T>(): Promise<T> {
    // As with Kubo's JSON output, when a command gives several values the last is the result.
    let last: unknown
    for await (const value of this.#values) last = value
    return last as T
  }

  ndjson<T>(): AsyncIterable<T> {
    return this.#values as AsyncIterable<T>
  }

  /** Only for `client.request()` callers who read raw output: the values as Kubo's JSON lines. */
  async *bytes(): AsyncIterable<Uint8Array> {
    const encoder = new TextEncoder()
    for await (const value of this.#values) yield encoder.encode(`${JSON.stringify(value)}\n`)
  }

  async text(): Promise<string> {
    let text = ''
    for await (const value of this.#values) text += `${JSON.stringify(value)}\n`
    return text
  }

  async drain(): Promise<void> {
    for await (const _ of this.#values) {
      // Discard: the command's output carries nothing the caller needs.
    }
  }
}
