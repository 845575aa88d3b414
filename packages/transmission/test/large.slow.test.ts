import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { describe, expect, it } from 'vitest'
import { listenForFileTransmissions, type Progress, type ReceivedFile, transmitFile } from '../src/index.js'
import { nextValue, sha256File, startPair } from './helpers.js'

// Slow: 256 MiB through a real tunnel, with this process's RSS sampled throughout. Sender and
// receiver both run in this process, so the budget bounds the two together.
const SIZE = 256 * 1024 * 1024
const BLOCK = 1024 * 1024
const RSS_BUDGET = 100 * 1024 * 1024

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

describe('a large file', () => {
  it('moves 256 MiB A→B intact, progress monotonic, RSS growth under 100 MB', {
    timeout: 600_000
  }, async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-large-'))
    const pair = await startPair()
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
      await pair.stop()
      await fs.rm(tmp, { recursive: true, force: true })
    }
  })
})
