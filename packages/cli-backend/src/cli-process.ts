import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import type { FileEntry } from '@tk/rpc/transport'
import { KILL_GRACE } from './constants.js'

/** How a process ended: its exit code or signal, or the error that kept it from running. */
export interface Exit {
  code: number | null
  signal?: NodeJS.Signals | null
  error?: Error
}

export interface IpfsProcessOptions {
  env: NodeJS.ProcessEnv
  /** Whether a body is fed to stdin. */
  stdin: boolean
  /** Whether stdout is read (not when the command writes its output to a file). */
  stdout: boolean
  /** How much of stderr is kept (bytes); Kubo's errors are one line, some commands report results there. */
  stderrLimit: number
}

/**
 * One running `ipfs` process and nothing else: its exit, the end of its stderr, its stdin fed with
 * backpressure, and killing it. Where its output is read from, and why it is stopped, is the call's.
 */
export class IpfsProcess {
  readonly exit: Promise<Exit>
  readonly #child: ChildProcess
  readonly #stderrLimit: number
  #stderr = ''
  #exited = false
  #killTimer: NodeJS.Timeout | undefined

  /** Spawns with an argument array, never a shell; throws when Node refuses the command line (e.g. a NUL byte). */
  constructor(binary: string, argv: readonly string[], options: IpfsProcessOptions) {
    this.#stderrLimit = options.stderrLimit
    const child = spawn(binary, argv, {
      env: options.env,
      stdio: [options.stdin ? 'pipe' : 'ignore', options.stdout ? 'pipe' : 'ignore', 'pipe'],
      windowsHide: true
    })
    this.#child = child
    this.exit = new Promise<Exit>(resolve => {
      child.once('error', error => resolve({ code: null, error }))
      child.once('close', (code, signal) => resolve({ code, signal }))
    })
    void this.exit.then(() => {
      this.#exited = true
      clearTimeout(this.#killTimer)
    })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-this.#stderrLimit)
    })
  }

  get stdout(): Readable | null {
    return this.#child.stdout
  }

  /** The end of stderr (all of it up to the limit). */
  get stderr(): string {
    return this.#stderr
  }

  get exited(): boolean {
    return this.#exited || this.#child.exitCode != null || this.#child.signalCode != null
  }

  /** SIGTERM (`ipfs` cancels its request), then SIGKILL after a grace period; at once with `immediately`. */
  kill(immediately: boolean): void {
    if (this.exited) return
    if (immediately) {
      this.#child.kill('SIGKILL')
      return
    }
    this.#child.kill('SIGTERM')
    const child = this.#child
    this.#killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE)
    this.#killTimer.unref()
  }

  /**
   * Streams `content` into stdin with backpressure, calling `onChunk` before each chunk (false
   * stops feeding). Rejects with the body's own error; a process that exits before reading it all
   * is not an error here (its exit status says why).
   */
  async feed(content: FileEntry['content'], onChunk: () => boolean): Promise<void> {
    const stdin = this.#child.stdin
    if (stdin == null) return
    // EPIPE when the process exits before reading everything: its exit status says why.
    stdin.on('error', () => {})
    const chunks = content instanceof Uint8Array ? [content] : content
    for await (const chunk of chunks) {
      if (stdin.destroyed || !onChunk()) return
      if (!stdin.write(chunk)) await Promise.race([once(stdin, 'drain'), this.exit])
    }
    stdin.end()
  }
}
