import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The built app, run as a user runs it. */
export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js')

export type AppEvent = Record<string, unknown> & { type: string }

export interface AppResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * The environment of the app under test: no IPFS_API of the machine's, no colours, and (unless a
 * test says otherwise) a contacts file that is not the user's.
 */
export function appEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra }
  delete env.IPFS_API
  delete env.FORCE_COLOR
  // Never created unless a test adds a contact, which it does with a TK_CONTACTS of its own.
  env.TK_CONTACTS ??= path.join(os.tmpdir(), `tk-demo-test-no-contacts-${process.pid}.json`)
  return env
}

/** Runs `tk-demo <args>` to the end. */
export async function runApp(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeout?: number } = {}
): Promise<AppResult> {
  const app = startApp(args, options)
  if (options.input != null) app.child.stdin?.end(options.input)
  else app.child.stdin?.end()
  const code = await app.exited(options.timeout ?? 120_000)
  return { code, stdout: app.stdout, stderr: app.stderr }
}

/** A running `tk-demo <args>`, whose output is collected as it comes. */
export class App implements AsyncDisposable {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly #exit: Promise<number | null>
  #listeners: Array<() => void> = []

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk
      for (const listener of this.#listeners) listener()
    })
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.#exit = new Promise(resolve => {
      this.child.once('exit', (code, signal) => resolve(code ?? (signal == null ? null : 128)))
    })
  }

  /** The JSON lines printed so far (with `--json`). */
  get events(): AppEvent[] {
    return jsonLines(this.stdout)
  }

  /** Resolves with the first event `match` accepts, waiting for it up to `timeout` ms. */
  async nextEvent(match: (event: AppEvent) => boolean, timeout = 60_000): Promise<AppEvent> {
    return await this.#waitFor(() => this.events.find(match), timeout)
  }

  /** Resolves once the output so far satisfies `match`, waiting up to `timeout` ms. */
  async nextOutput(match: (stdout: string) => boolean, timeout = 60_000): Promise<string> {
    return await this.#waitFor(() => (match(this.stdout) ? this.stdout : undefined), timeout)
  }

  async #waitFor<T>(find: () => T | undefined, timeout: number): Promise<T> {
    return await new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = find()
        if (found == null) return false
        clearTimeout(timer)
        this.#listeners = this.#listeners.filter(listener => listener !== onData)
        resolve(found)
        return true
      }
      const onData = (): void => {
        check()
      }
      const timer = setTimeout(() => {
        this.#listeners = this.#listeners.filter(listener => listener !== onData)
        reject(new Error(`Not seen within ${timeout} ms.\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`))
      }, timeout)
      if (!check()) this.#listeners.push(onData)
    })
  }

  /** The exit code once the process ends; rejects after `timeout` ms. */
  async exited(timeout = 60_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        this.#exit,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `Still running after ${timeout} ms.\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`
                )
              ),
            timeout
          )
        })
      ])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Ctrl-C, and the exit code. */
  async interrupt(timeout = 30_000): Promise<number | null> {
    this.child.kill('SIGINT')
    return await this.exited(timeout)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode == null && this.child.signalCode == null) {
      this.child.kill('SIGKILL')
      await this.#exit
    }
  }
}

export function startApp(args: readonly string[], options: { env?: Record<string, string> } = {}): App {
  return new App(args, appEnvironment(options.env))
}

/** `tk-demo receive --json` on the node at `api`, saving files into `directory`, ending after `count` transmissions. */
export function startReceiver(api: string, directory: string, count: number): App {
  return startApp(['receive', '--api', api, '--json', '--dir', directory, '--count', String(count)])
}

/** Every line of `text` that is a JSON object. */
export function jsonLines(text: string): AppEvent[] {
  return text
    .split('\n')
    .filter(line => line.startsWith('{'))
    .map(line => JSON.parse(line) as AppEvent)
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A temp folder, removed with `await using`. */
export async function temporaryDirectory(): Promise<{ path: string } & AsyncDisposable> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-demo-test-'))
  return {
    path: directory,
    [Symbol.asyncDispose]: async () => await fs.rm(directory, { recursive: true, force: true })
  }
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/**
 * The CIDv1 of `bytes` published as one raw block (what both Kubo and the embedded node give a
 * small file with their defaults): `b` + base32 of <version 1, raw 0x55, sha2-256 0x12, 32, digest>.
 */
export function rawLeafCid(bytes: Uint8Array): string {
  const cid = Buffer.concat([
    Buffer.from([0x01, 0x55, 0x12, 0x20]),
    createHash('sha256').update(bytes).digest()
  ])
  let text = 'b'
  let value = 0
  let bits = 0
  for (const byte of cid) {
    value = ((value << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) text += BASE32[(value << (5 - bits)) & 31]
  return text
}
