import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createKuboClient, type KuboClient } from '@tk/rpc'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliTransport } from '../src/index.js'
import {
  cliClientOf,
  fdsOpenedSince,
  ipfsProcessesWith,
  type OwnTmpdir,
  openFds,
  ownTmpdir
} from './helpers.js'

const MiB = 1024 * 1024
// Large enough that a bounded stream's memory (on Node 26 RSS grows by ~37 MiB while streaming
// whatever the size: V8's young generation and socket buffers) stays far below what holding the
// archive would take (SIZE and more).
const SIZE = 128 * MiB
/** A tar entry's header: the file's bytes start after it. */
const TAR_HEADER = 512

/** Where a tar header holds the mtime and the checksum over it: Kubo puts the time of the `get` there. */
const TAR_MTIME_AND_CHECKSUM = [136, 156] as const

/**
 * Reads a one-file tar stream as it comes (header, content, then padding and the end blocks):
 * keeps the header without its time, hashes the content, and hashes what follows it.
 */
class TarReader {
  readonly content = createHash('sha256')
  readonly trailer = createHash('sha256')
  #header = Buffer.alloc(0)
  length = 0

  /** The header without mtime and checksum, which differ between two calls a second apart. */
  get header(): string {
    const header = Buffer.from(this.#header)
    header.fill(0, ...TAR_MTIME_AND_CHECKSUM)
    return header.toString('hex')
  }

  /** The digests of content and trailer, and the header: equal for two reads of one archive. */
  summary(): { header: string; content: string; trailer: string; length: number } {
    return {
      header: this.header,
      content: this.content.digest('hex'),
      trailer: this.trailer.digest('hex'),
      length: this.length
    }
  }

  update(chunk: Uint8Array): void {
    if (this.#header.byteLength < TAR_HEADER) {
      const missing = TAR_HEADER - this.#header.byteLength
      this.#header = Buffer.concat([this.#header, chunk.subarray(0, missing)])
    }
    const afterContent = Math.max(0, TAR_HEADER + SIZE - this.length)
    if (afterContent < chunk.byteLength) this.trailer.update(chunk.subarray(afterContent))
    const start = Math.max(0, TAR_HEADER - this.length)
    const end = Math.min(chunk.byteLength, TAR_HEADER + SIZE - this.length)
    if (end > start) this.content.update(chunk.subarray(start, end))
    this.length += chunk.byteLength
  }
}

describe('get streams the archive while ipfs writes it (through a FIFO)', () => {
  let node: KuboNode
  let cli: KuboClient
  let cid: string
  let contentDigest: string
  let overHttp: ReturnType<TarReader['summary']>
  /** How long this machine takes to read the whole archive out of Kubo (over HTTP), measured now. */
  let wholeArchiveMs = 0
  let tmp: OwnTmpdir

  beforeAll(async () => {
    node = await createKuboNode()
    // Temp dirs of our own, so the checks that nothing is left behind see only this file's calls.
    tmp = await ownTmpdir('tk-cli-get-')
    const content = createHash('sha256')
    async function* random(): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < SIZE; offset += MiB) {
        const chunk = randomBytes(MiB)
        content.update(chunk)
        yield chunk
      }
    }
    // Over HTTP, and closed before the checks: its pooled sockets would count as open fds.
    await using http = createKuboClient({ apiUrl: node.apiUrl })
    cid = (await http.add(random())).cid
    contentDigest = content.digest('hex')
    const archive = new TarReader()
    const started = Date.now()
    for await (const chunk of http.get(cid)) archive.update(chunk)
    wholeArchiveMs = Date.now() - started
    overHttp = archive.summary()
    cli = cliClientOf(node)
  })

  afterEach(async () => {
    await expect.poll(async () => await ipfsProcessesWith(cid), { timeout: 10_000 }).toBe(0)
    expect(await fs.readdir(tmp.dir)).toEqual([])
  })

  afterAll(async () => {
    await cli?.close()
    await node?.stop()
    await tmp?.restore()
  })

  it('hands out the first bytes while ipfs is still writing, in bounded memory', async () => {
    const fdsBefore = await openFds()
    const rssBefore = process.memoryUsage().rss
    let rssPeak = rssBefore
    const hash = new TarReader()
    const iterator = cli.get(cid)[Symbol.asyncIterator]()
    const first = await iterator.next()
    if (first.done === true) throw new Error('no output')
    hash.update(first.value)
    // The process is still there: it cannot finish while 128 MiB wait to be read.
    expect(await ipfsProcessesWith(cid)).toBe(1)
    const [callDir] = await fs.readdir(tmp.dir)
    const output = await fs.stat(path.join(tmp.dir, callDir ?? '', 'out.tar'))
    expect(output.isFIFO()).toBe(true)
    // A consumer that pauses holds ipfs back (backpressure), instead of it writing the archive elsewhere.
    // A sleep that is needed: no event tells that a process is held back (Go waits for a full FIFO in
    // its poller, like an idle process), so the test pauses for twice the time this machine took to read
    // the whole archive out of Kubo; an ipfs that was not held back would be done and gone by then.
    await new Promise(resolve => setTimeout(resolve, Math.max(1_000, 2 * wholeArchiveMs)))
    expect(await ipfsProcessesWith(cid)).toBe(1)
    expect(hash.length).toBeLessThan(SIZE)

    let chunks = 1
    for (;;) {
      const next = await iterator.next()
      if (next.done === true) break
      hash.update(next.value)
      if (++chunks % 64 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    }
    // Header, 128 MiB, two zero blocks: the same archive as over HTTP (but for the time of the call).
    const summary = hash.summary()
    expect(summary.content).toBe(contentDigest)
    expect(summary.length).toBe(TAR_HEADER + SIZE + 1024)
    expect(summary).toEqual(overHttp)
    // Chunks are read as they come and dropped: the archive is never held whole.
    expect(rssPeak - rssBefore).toBeLessThan(SIZE / 2)
    await expect.poll(async () => await fdsOpenedSince(fdsBefore)).toEqual([])
  })

  it('aborting mid-stream kills ipfs and leaves no process, temp dir or fd', async () => {
    const fdsBefore = await openFds()
    const controller = new AbortController()
    let received = 0
    const error = await (async () => {
      for await (const chunk of cli.get(cid, { signal: controller.signal })) {
        received += chunk.byteLength
        if (received >= 4 * MiB) controller.abort()
      }
    })().catch((caught: unknown) => caught as Error)
    expect(error).toMatchObject({ name: 'AbortError', command: 'get' })
    // Nothing after the abort: the bytes still buffered are not handed out.
    expect(received).toBeLessThan(4 * MiB + MiB)
    // The call ends when the process is gone and its temp dir removed.
    expect(await ipfsProcessesWith(cid)).toBe(0)
    expect(await fs.readdir(tmp.dir)).toEqual([])
    await expect.poll(async () => await fdsOpenedSince(fdsBefore)).toEqual([])
  })

  it('a consumer that stops reading ends ipfs, a timeout too', async () => {
    const fdsBefore = await openFds()
    let received = 0
    for await (const chunk of cli.get(cid)) {
      received += chunk.byteLength
      if (received >= MiB) break
    }
    await expect.poll(async () => await ipfsProcessesWith(cid), { timeout: 5_000 }).toBe(0)
    await expect.poll(async () => await fs.readdir(tmp.dir)).toEqual([])

    // Read nothing: the deadline stops the call though ipfs is blocked writing into the FIFO.
    const started = Date.now()
    const iterator = cli.get(cid, { timeout: 1_500 })[Symbol.asyncIterator]()
    await iterator.next()
    // Still reading nothing: ipfs, blocked on the FIFO, can only go by the deadline's kill.
    await expect.poll(async () => await ipfsProcessesWith(cid), { timeout: 10_000 }).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500)
    const timedOut = await (async () => {
      for (;;) if ((await iterator.next()).done === true) return undefined
    })().catch((caught: unknown) => caught as Error)
    expect(timedOut).toMatchObject({ name: 'RpcTimeoutError', command: 'get', timeout: 1_500 })
    expect(Date.now() - started).toBeLessThan(10_000)
    await expect.poll(async () => await fdsOpenedSince(fdsBefore)).toEqual([])
  })

  it('closing the transport releases an archive nobody reads', async () => {
    const fdsBefore = await openFds()
    const own = cliClientOf(node)
    const iterator = own.get(cid)[Symbol.asyncIterator]()
    await iterator.next()
    expect(await ipfsProcessesWith(cid)).toBe(1)
    await own.close()
    expect(await ipfsProcessesWith(cid)).toBe(0)
    expect(await fs.readdir(tmp.dir)).toEqual([])
    await expect(iterator.next()).rejects.toMatchObject({ name: 'AbortError', command: 'get' })
    await expect.poll(async () => await fdsOpenedSince(fdsBefore)).toEqual([])
  })

  it('fails with KuboRpcError when ipfs exits non-zero, saying so instead of an HTTP status', async () => {
    const fdsBefore = await openFds()
    const missing = `/ipfs/${cid}/no-such-file`
    type Refusal = Error & { status?: number; kuboMessage?: string }
    const throughCli = await cli
      .get(missing)
      .next()
      .then(() => undefined)
      .catch((caught: unknown) => caught as Refusal)
    await using http = createKuboClient({ apiUrl: node.apiUrl })
    const overHttp = await http
      .get(missing)
      .next()
      .then(() => undefined)
      .catch((caught: unknown) => caught as Refusal)
    expect(throughCli).toMatchObject({
      name: 'KuboRpcError',
      command: 'get',
      status: overHttp?.status,
      kuboMessage: overHttp?.kuboMessage
    })
    expect(overHttp?.message).toMatch(/\(HTTP 500\)$/)
    expect(throughCli?.message).toBe(`Kubo refused get: ${overHttp?.kuboMessage} (ipfs exited with code 1)`)
    await http.close()
    await expect.poll(async () => await fdsOpenedSince(fdsBefore)).toEqual([])
  })

  it('an argument no process can be given (a NUL byte) fails before ipfs runs, leaving nothing', async () => {
    const fdsBefore = await openFds()
    // Through the raw request, past the client's path check: only spawn can refuse it.
    const refused = await cli
      .request('get', { args: [`/ipfs/${cid}\0x`] })
      .then(() => undefined)
      .catch((caught: unknown) => caught as Error & { code?: string })
    expect(refused).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' })
    expect(await fs.readdir(tmp.dir)).toEqual([])
    expect(await fdsOpenedSince(fdsBefore)).toEqual([])
  })

  it('without mkfifo (as on Windows) the archive still arrives, from a file once ipfs has exited', async () => {
    // No PATH: `mkfifo` cannot be found; `ipfs` is run by its full path.
    await using fallback = createKuboClient({
      transport: cliTransport({
        binary: node.binary,
        api: node.apiMultiaddr,
        repoPath: node.repoPath,
        env: { PATH: '/nonexistent' }
      })
    })
    const iterator = fallback.get(cid)[Symbol.asyncIterator]()
    const hash = new TarReader()
    const first = await iterator.next()
    if (first.done === true) throw new Error('no output')
    hash.update(first.value)
    // The whole archive is on disk first: ipfs is gone when the first bytes arrive.
    expect(await ipfsProcessesWith(cid)).toBe(0)
    const [callDir] = await fs.readdir(tmp.dir)
    expect((await fs.stat(path.join(tmp.dir, callDir ?? '', 'out.tar'))).size).toBe(TAR_HEADER + SIZE + 1024)
    for (;;) {
      const next = await iterator.next()
      if (next.done === true) break
      hash.update(next.value)
    }
    expect(hash.summary()).toEqual({ ...overHttp, content: contentDigest })
  })
})
