import { createHash, randomBytes } from 'node:crypto'
import { createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { createKuboClient } from '../src/index.js'

// Slow: a 1 GiB add and cat, streamed both ways, with this process's RSS sampled throughout.
const SIZE = 1024 * 1024 * 1024
const CHUNK = 1024 * 1024
const RSS_BUDGET = 150 * 1024 * 1024

/** 1 GiB of bytes that do not deduplicate (every 64 KiB is stamped with its index), hashed as produced. */
function* source(hash: ReturnType<typeof createHash>): Generator<Uint8Array> {
  const block = randomBytes(CHUNK)
  for (let index = 0; index < SIZE / CHUNK; index++) {
    const chunk = Buffer.from(block)
    for (let offset = 0; offset < CHUNK; offset += 64 * 1024)
      chunk.writeUInt32BE(index * 16 + offset / 65536, offset)
    hash.update(chunk)
    yield chunk
  }
}

function sampleRss(): { stop: () => number } {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 50)
  return {
    stop: () => {
      clearInterval(timer)
      return Math.max(peak, process.memoryUsage.rss())
    }
  }
}

describe('large content', () => {
  it('adds and cats 1 GiB streamed, with RSS growth under 150 MB', { timeout: 600_000 }, async () => {
    await using node = await createKuboNode()
    await using client = createKuboClient(node.apiUrl)
    globalThis.gc?.()
    const baseline = process.memoryUsage.rss()
    const sampler = sampleRss()

    const sent = createHash('sha256')
    const { cid, size } = await client.add(source(sent), { cidVersion: 1, rawLeaves: true, pin: false })
    expect(size).toBeGreaterThan(SIZE)

    const received = createHash('sha256')
    let bytes = 0
    for await (const chunk of client.cat(cid)) {
      received.update(chunk)
      bytes += chunk.byteLength
    }
    const peak = sampler.stop()

    expect(bytes).toBe(SIZE)
    expect(received.digest('hex')).toBe(sent.digest('hex'))
    console.log(
      `1 GiB add + cat: RSS baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB`
    )
    expect(peak - baseline).toBeLessThan(RSS_BUDGET)
  })
})
