import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { LocalPathError } from '@tk/interface'
import { describe, expect, it } from 'vitest'
import { makeTree, readTree, temporaryDirectory, useKuboAndEmbedded } from './helpers.js'

describe('content between an embedded node and Kubo', () => {
  /** Four 256 KiB chunks and a bit: a file whose DAG has a root and several raw leaves. */
  const large = randomBytes(4 * 262_144 + 1000)
  const both = useKuboAndEmbedded()

  it('gives the same CIDs as Kubo for the same bytes (0 B, 1 B, one chunk, several chunks) and for a directory', async () => {
    const { kubo, embedded } = both
    await using work = await temporaryDirectory('cids')
    await makeTree(path.join(work.path, 'site'), large)
    const inputs = [new Uint8Array(0), Uint8Array.of(7), randomBytes(262_144), large]
    for (const input of inputs) {
      const fromKubo = await kubo.predictCid(input)
      expect(await embedded.content.predictCid(input)).toBe(fromKubo)
      expect(await embedded.content.predictCid(input, { cidVersion: 0 })).toBe(
        await kubo.predictCid(input, { cidVersion: 0 })
      )
    }
    const tree = path.join(work.path, 'site')
    expect(await embedded.content.predictCid(tree)).toBe(await kubo.predictCid(tree))
  })

  it('Kubo reads bytes and downloads a directory that the embedded node published (bitswap embedded → Kubo)', async () => {
    const { kubo, embedded } = both
    await using work = await temporaryDirectory('to-kubo')
    const tree = path.join(work.path, 'site')
    await makeTree(tree, large)
    const bytesCid = await embedded.content.publish(large, { timeout: 10_000 })
    const treeCid = await embedded.content.publish(tree, { timeout: 10_000 })
    expect(Buffer.from(await kubo.read(bytesCid, { timeout: 20_000 })).equals(large)).toBe(true)
    const saved = await kubo.download(treeCid, path.join(work.path, 'from-kubo'), { timeout: 20_000 })
    expect(await readTree(saved)).toEqual(await readTree(tree))
  })

  it('the embedded node reads bytes and downloads a directory that Kubo published (bitswap Kubo → embedded)', async () => {
    const { kubo, embedded } = both
    await using work = await temporaryDirectory('from-kubo')
    const tree = path.join(work.path, 'site')
    const content = randomBytes(3 * 262_144 + 17)
    await makeTree(tree, content)
    const bytesCid = await kubo.publish(content)
    const treeCid = await kubo.publish(tree)
    expect(Buffer.from(await embedded.content.read(bytesCid, { timeout: 20_000 })).equals(content)).toBe(true)
    const saved = await embedded.content.download(treeCid, path.join(work.path, 'saved'), { timeout: 20_000 })
    expect(await readTree(saved)).toEqual(await readTree(tree))
    // A path below the root, and a range.
    const note = await embedded.content.read(`/ipfs/${treeCid}/nested/note.md`, { timeout: 10_000 })
    expect(new TextDecoder().decode(note)).toBe('# note\n')
    const range = await embedded.content.read(bytesCid, { offset: 262_140, length: 10, timeout: 10_000 })
    expect(Buffer.from(range).equals(content.subarray(262_140, 262_150))).toBe(true)
  })

  it('pins what it fetched, lists it, and remove() drops it after unpinning', async () => {
    const { kubo, embedded } = both
    const content = randomBytes(1000)
    const cid = await kubo.publish(content)
    await embedded.content.pin(cid, { timeout: 20_000 })
    expect(await embedded.content.pins({ cidsOnly: true })).toContain(cid)
    expect(await embedded.content.pins({ type: 'recursive' })).toContainEqual({ cid, type: 'recursive' })
    expect(await embedded.content.remove(cid, { timeout: 10_000 })).toBe(true)
    expect(await embedded.content.pins({ cidsOnly: true })).not.toContain(cid)
  })

  it('publishing a directory of 3,000 files opens them as it goes (not all at once) and gives the CID Kubo gives', async () => {
    const { kubo, embedded } = both
    await using work = await temporaryDirectory('many')
    const tree = path.join(work.path, 'many')
    await fs.mkdir(tree)
    for (let index = 0; index < 3_000; index++)
      await fs.writeFile(path.join(tree, `file-${index}`), `file ${index}`)
    const descriptors = (): number => readdirSync('/proc/self/fd').length
    const before = descriptors()
    let peak = before
    const sampler = setInterval(() => {
      peak = Math.max(peak, descriptors())
    }, 1)
    let cid: string
    try {
      cid = await embedded.content.publish(tree, { timeout: 60_000 })
    } finally {
      clearInterval(sampler)
    }
    // The importer reads up to 50 files at a time; opening all 3,000 up front would show here.
    expect(peak - before).toBeLessThan(500)
    expect(cid).toBe(await kubo.predictCid(tree))
  })

  it('a missing path to publish and a download onto an existing file reject with the one LocalPathError of @tk/interface, naming the path', async () => {
    const { embedded } = both
    await using work = await temporaryDirectory('local-path')
    const missing = path.join(work.path, 'not-there')
    const publishing = embedded.content.publish(missing, { timeout: 10_000 })
    await expect(publishing).rejects.toBeInstanceOf(LocalPathError)
    await expect(publishing).rejects.toMatchObject({ name: 'LocalPathError', path: missing })
    const cid = await embedded.content.publish(Uint8Array.of(1, 2, 3), { timeout: 10_000 })
    const taken = path.join(work.path, 'taken')
    await fs.writeFile(taken, 'mine')
    const downloading = embedded.content.download(cid, taken, { timeout: 10_000 })
    await expect(downloading).rejects.toBeInstanceOf(LocalPathError)
    await expect(downloading).rejects.toMatchObject({ path: taken })
    expect(await fs.readFile(taken, 'utf8')).toBe('mine')
  })

  it('a read of content nobody has settles with CallTimeoutError within its timeout', async () => {
    const { kubo, embedded } = both
    const missing = await kubo.predictCid(randomBytes(64))
    const started = Date.now()
    const error = await embedded.content.read(missing, { timeout: 1_000 }).catch((caught: unknown) => caught)
    const elapsed = Date.now() - started
    expect((error as Error).name).toBe('CallTimeoutError')
    expect(elapsed).toBeGreaterThanOrEqual(990)
    expect(elapsed).toBeLessThan(3_000)
    // The stream form settles too, and an abort wins as well.
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('stop')), 300)
    const aborted = await (async () => {
      for await (const chunk of embedded.content.readStream(missing, { signal: controller.signal }))
        void chunk
    })().catch((caught: unknown) => caught)
    expect((aborted as Error).message).toBe('stop')
  })
})
