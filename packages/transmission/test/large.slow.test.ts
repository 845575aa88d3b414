import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import v8 from 'node:v8'
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import {
  listenForFileTransmissions,
  listenForTransmissions,
  type Progress,
  type ReceivedFile,
  transmitData,
  transmitFile
} from '../src/index.js'
import { nextValue, sha256File, usePair } from './helpers.js'

// Slow: 256 MiB through a real tunnel, with this process's RSS sampled throughout. Sender and
// receiver both run in this process, so the budget bounds the two together.
const SIZE = 256 * 1024 * 1024
const BLOCK = 1024 * 1024
const RSS_BUDGET = 100 * 1024 * 1024
/** transmitData calls per heap measurement, and measurements after the warm-up. */
const BATCH = 1000
const BATCHES = 3

/** SIZE bytes that differ block to block (each 64 KiB stamped with its index), hashed as produced. */
function* source(hash: ReturnType<typeof createHash>): Generator<Buffer> {
  const block = randomBytes(BLOCK)
  for (let index = 0; index < SIZE / BLOCK; index++) {
    const chunk = Buffer.from(block)
    for (let offset = 0; offset < BLOCK; offset += 64 * 1024)
      chunk.writeUInt32BE(index * 16 + offset / 65536, offset)
    hash.update(chunk)
    yield chunk
  }
}

function sampleRss(intervalMs: number): { stop: () => number } {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      return Math.max(peak, process.memoryUsage.rss())
    }
  }
}

/** The garbage collector, without needing `--expose-gc` on the command line. */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
}

const pair = usePair()

describe('a large file', () => {
  it('moves 256 MiB A→B intact, progress monotonic, RSS growth under 100 MB', {
    timeout: 600_000
  }, async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-large-'))
    try {
      const { a, b } = pair
      const inbox = path.join(tmp, 'inbox')
      await fs.mkdir(inbox)
      const file = path.join(tmp, 'large.bin')
      const written = createHash('sha256')
      await pipeline(source(written), createWriteStream(file))
      const expectedDigest = written.digest('hex')

      const got = nextValue<ReceivedFile>(600_000)
      const receiverProgress: number[] = []
      await using _listener = await listenForFileTransmissions('large', received => got.deliver(received), {
        ipfs: b.ipfs,
        directory: inbox,
        onProgress: progress => void receiverProgress.push(progress.bytes)
      })

      globalThis.gc?.()
      const baseline = process.memoryUsage.rss()
      const sampler = sampleRss(100)
      const progress: Progress[] = []
      const started = performance.now()
      await transmitFile(file, b.node.peerId, 'large', {
        ipfs: a.ipfs,
        onProgress: update => void progress.push(update)
      })
      const seconds = (performance.now() - started) / 1000
      const received = await got.promise
      const peak = sampler.stop()

      expect(received).toMatchObject({ peerId: a.node.peerId, name: 'large.bin', size: SIZE })
      expect((await fs.stat(received.path)).size).toBe(SIZE)
      expect(await sha256File(received.path)).toBe(expectedDigest)
      expect(await fs.readdir(inbox)).toEqual(['large.bin'])

      const bytes = progress.map(update => update.bytes)
      expect(bytes.length).toBeGreaterThan(SIZE / (1024 * 1024))
      expect(bytes.every((value, index) => index === 0 || value >= (bytes[index - 1] ?? 0))).toBe(true)
      expect(progress.at(-1)).toMatchObject({ bytes: SIZE, total: SIZE })
      expect(progress.every(update => update.total === SIZE && update.rate > 0)).toBe(true)
      expect(
        receiverProgress.every((value, index) => index === 0 || value >= (receiverProgress[index - 1] ?? 0))
      ).toBe(true)
      expect(receiverProgress.at(-1)).toBe(SIZE)

      console.log(
        `256 MiB transmitFile: ${((SIZE / seconds) * 1e-6).toFixed(1)} MB/s; RSS baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB`
      )
      expect(peak - baseline).toBeLessThan(RSS_BUDGET)
    } finally {
      await fs.rm(tmp, { recursive: true, force: true })
    }
  })
})

describe('many small transmissions', () => {
  it('transmitData calls leave the heap where it was (nothing per call is kept)', {
    timeout: 300_000
  }, async () => {
    const { a, b } = pair
    const gc = collectGarbage()
    let received = 0
    await using _listener = await listenForTransmissions('many-small', () => void received++, {
      ipfs: b.ipfs
    })
    const message = new Uint8Array(1024)
    const send = async (count: number): Promise<void> => {
      for (let index = 0; index < count; index++)
        await transmitData(message, b.node.peerId, 'many-small', { ipfs: a.ipfs })
    }
    const settledHeap = async (): Promise<number> => {
      gc()
      // A pause that is needed: sockets and handles freed by the first collection close on later turns
      // of the event loop (no event says when all have); the second collection then frees them.
      await new Promise(resolve => setTimeout(resolve, 100))
      gc()
      return process.memoryUsage().heapUsed
    }
    // Warm-up: the forward tunnel and pools, and the code V8 compiles for these paths. On Node 26
    // the first thousand calls add about 300 KiB of compiled code once (code and trusted space),
    // and then nothing: measured from a 200-call warm-up, that one-off read as ~1 KiB per call.
    await send(BATCH + 200)
    const baseline = await settledHeap()
    const growth: number[] = []
    let last = baseline
    for (let batch = 0; batch < BATCHES; batch++) {
      await send(BATCH)
      const heap = await settledHeap()
      growth.push(heap - last)
      last = heap
    }
    await expect.poll(() => received).toBe(BATCH * (BATCHES + 1) + 200)
    console.log(
      `transmitData heap growth per call, ${BATCHES} batches of ${BATCH}: ${growth.map(bytes => (bytes / BATCH).toFixed(0)).join(', ')} bytes (baseline ${(baseline / 2 ** 20).toFixed(1)} MiB)`
    )
    // Both sides run here. Something kept per call grows the heap in every batch; a one-off
    // (a late compilation, a pool growing) shows in one batch only, so the median is what counts:
    // 256 bytes per call kept fails it (measured: under 70 bytes per call either way).
    const median = [...growth].sort((x, y) => x - y)[Math.floor(BATCHES / 2)] ?? Number.POSITIVE_INFINITY
    expect(median / BATCH).toBeLessThan(256)
  })
})
