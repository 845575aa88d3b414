import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, createReadStream, constants as fsConstants, open as openCallback } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { OUTPUT_FILE_CHUNK, TEMP_DIR_PREFIX } from './constants.js'

/** `fs.open` that hands back the bare fd: a FileHandle would close it when collected, under a socket using it. */
const openFd = promisify(openCallback)

/**
 * The files one call needs: a temp dir (bodies, output), and the path a command writes its output
 * to instead of stdout — a FIFO read while the process writes it (bounded memory, output as it
 * comes), or where no FIFO can be made a plain file read after the exit. Removed by `remove()`.
 */
export class CallFiles {
  #tempDir: string | undefined
  #outputPath: string | undefined
  /** The read end of the FIFO at the output path, read while the process runs. */
  #fifoReader: net.Socket | undefined
  /** Our write end of the FIFO: holding it keeps the reader from seeing EOF before `ipfs` opens the FIFO. */
  #fifoWriter: number | undefined

  /** Where the command writes its output, when it does not write to stdout. */
  get outputPath(): string | undefined {
    return this.#outputPath
  }

  /** Whether the output comes through a FIFO (read as the process writes it). */
  get isFifo(): boolean {
    return this.#fifoReader != null
  }

  async tempDir(): Promise<string> {
    this.#tempDir ??= await fs.mkdtemp(path.join(os.tmpdir(), TEMP_DIR_PREFIX))
    return this.#tempDir
  }

  /** Makes the output path `name` in the temp dir: a FIFO where `mkfifo` is on `env`'s PATH, else a plain file. */
  async makeOutput(name: string, env: NodeJS.ProcessEnv): Promise<string> {
    const file = path.join(await this.tempDir(), name)
    this.#outputPath = file
    if (!(await makeFifo(file, env))) return file
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

  /**
   * The output: the FIFO as it is written, or the plain file once `succeeded` says the process
   * exited well (`onRead` for each chunk of it).
   */
  output(succeeded: Promise<boolean>, onRead: () => void): AsyncIterable<Uint8Array> {
    if (this.#fifoReader != null) return this.#fifoReader
    const file = this.#outputPath
    if (file == null) throw new Error('no output path was made')
    return readAfter(file, succeeded, onRead)
  }

  /** Once the process has exited: its end of the FIFO closed with it, and with ours the reader gets EOF. */
  closeFifoWriter(): void {
    const writer = this.#fifoWriter
    this.#fifoWriter = undefined
    if (writer != null) closeSync(writer)
  }

  closeFifoReader(): void {
    this.#fifoReader?.destroy()
  }

  async remove(): Promise<void> {
    this.closeFifoReader()
    this.closeFifoWriter()
    const dir = this.#tempDir
    this.#tempDir = undefined
    if (dir != null) await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 })
  }
}

async function* readAfter(
  file: string,
  succeeded: Promise<boolean>,
  onRead: () => void
): AsyncGenerator<Uint8Array> {
  if (!(await succeeded)) return
  for await (const chunk of createReadStream(file, { highWaterMark: OUTPUT_FILE_CHUNK })) {
    onRead()
    yield chunk as Uint8Array
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
