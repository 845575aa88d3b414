import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { CallTimeoutError, Ipfs } from '@tk/interface'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { base36 } from 'multiformats/bases/base36'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedIpfs, type IpnsNameNotFoundError } from '../src/index.js'
import { type KuboApi, makeTree, openKubo, readTree, temporaryDirectory } from './helpers.js'

/** How late past its `timeout` a call may settle on a loaded machine. */
const MARGIN = 2_000

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

describe('content calls on /ipns/ paths on an embedded node (names it and Kubo published)', () => {
  let kuboNode: KuboNode
  let kubo: KuboApi
  let embedded: Ipfs
  const large = randomBytes(2 * 262_144 + 99)

  beforeAll(async () => {
    kuboNode = await createKuboNode()
    kubo = openKubo(kuboNode)
    embedded = await createEmbeddedIpfs()
    await embedded.peers.connect(kuboNode.swarmAddrs[0] ?? '', { timeout: 10_000 })
  })

  afterAll(async () => {
    await embedded?.close()
    await kubo?.close()
    await kuboNode?.stop()
  })

  it('reads, streams and downloads /ipns/<name>[/sub-path] of a name the embedded node published', async () => {
    await using work = await temporaryDirectory('ipns-own')
    const tree = path.join(work.path, 'site')
    await makeTree(tree, large)
    const cid = await embedded.content.publish(tree, { timeout: 10_000 })
    const keyName = `own-${randomBytes(3).toString('hex')}`
    const name = await embedded.ipns.createKey(keyName)
    await embedded.ipns.publish(keyName, cid, { timeout: 20_000 })

    const hello = await embedded.content.read(`/ipns/${name}/hello.txt`, { timeout: 10_000 })
    expect(Buffer.from(hello).toString()).toBe('hello from a tree\n')
    const largeRead = await embedded.content.read(`/ipns/${name}/nested/deeper/large.bin`, {
      timeout: 10_000
    })
    expect(Buffer.from(largeRead).equals(large)).toBe(true)
    const streamed = await collect(
      embedded.content.readStream(`/ipns/${name}/nested/deeper/large.bin`, { offset: 5, length: 300_000 })
    )
    expect(streamed.equals(large.subarray(5, 300_005))).toBe(true)
    const saved = await embedded.content.download(`/ipns/${name}/nested`, path.join(work.path, 'nested'), {
      timeout: 10_000
    })
    expect(await readTree(saved)).toEqual(await readTree(path.join(tree, 'nested')))
  })

  it('reads /ipns/<name> and a sub-path of a name Kubo published', async () => {
    await using work = await temporaryDirectory('ipns-kubo')
    const tree = path.join(work.path, 'site')
    await makeTree(tree, large)
    const bytes = randomBytes(5_000)
    const fileCid = await kubo.publish(bytes)
    const treeCid = await kubo.publish(tree)
    const fileKey = `kubo-file-${randomBytes(3).toString('hex')}`
    const treeKey = `kubo-tree-${randomBytes(3).toString('hex')}`
    const fileName = await kubo.createIpnsKey(fileKey)
    const treeName = await kubo.createIpnsKey(treeKey)
    await kubo.updateIpnsRecordFromCid(fileKey, fileCid, { timeout: 20_000 })
    await kubo.updateIpnsRecordFromCid(treeKey, treeCid, { timeout: 20_000 })

    const read = await embedded.content.read(`/ipns/${fileName}`, { timeout: 20_000 })
    expect(Buffer.from(read).equals(bytes)).toBe(true)
    const note = await embedded.content.read(`/ipns/${treeName}/nested/note.md`, { timeout: 20_000 })
    expect(Buffer.from(note).toString()).toBe('# note\n')
    const streamed = await collect(
      embedded.content.readStream(`/ipns/${treeName}/nested/deeper/large.bin`, { timeout: 20_000 })
    )
    expect(streamed.equals(large)).toBe(true)
  })

  it('a name nobody published fails with IpnsNameNotFoundError within the call’s timeout, for read, readStream and download, leaving nothing', async () => {
    await using work = await temporaryDirectory('ipns-missing')
    const key = await generateKeyPair('Ed25519')
    const unpublished = key.publicKey.toCID().toString(base36)
    const timeout = 10_000
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['read', () => embedded.content.read(`/ipns/${unpublished}/a.txt`, { timeout })],
      ['readStream', () => collect(embedded.content.readStream(`/ipns/${unpublished}`, { timeout }))],
      [
        'download',
        () => embedded.content.download(`/ipns/${unpublished}`, path.join(work.path, 'never'), { timeout })
      ]
    ]
    for (const [label, attempt] of attempts) {
      const started = performance.now()
      const error = await attempt().then(
        () => new Error(`${label} resolved`),
        (error: unknown) => error as Error
      )
      const elapsed = performance.now() - started
      // The one DHT peer (Kubo) answers that it has no record: a typed error, well before the deadline.
      expect([label, error.name, (error as IpnsNameNotFoundError).ipnsName]).toEqual([
        label,
        'IpnsNameNotFoundError',
        unpublished
      ])
      expect(elapsed).toBeLessThan(timeout + MARGIN)
    }
    // Nothing half-written: no part file or folder of the failed download.
    expect(await fs.readdir(work.path)).toEqual([])
  })

  it('a name whose only DHT peer never answers fails with CallTimeoutError within the call’s timeout', async () => {
    await using work = await temporaryDirectory('ipns-silent')
    const silentNode = await createKuboNode()
    await using other = await createEmbeddedIpfs()
    await other.peers.connect(silentNode.swarmAddrs[0] ?? '', { timeout: 10_000 })
    const unpublished = (await generateKeyPair('Ed25519')).publicKey.toCID().toString(base36)
    // Frozen: the connection stays up, and the DHT query to it gets no answer.
    process.kill(silentNode.pid, 'SIGSTOP')
    try {
      const timeout = 2_000
      for (const attempt of [
        () => other.content.read(`/ipns/${unpublished}`, { timeout }),
        () => other.content.download(`/ipns/${unpublished}`, path.join(work.path, 'never'), { timeout })
      ]) {
        const started = performance.now()
        const error = await attempt().then(
          () => new Error('resolved'),
          (error: unknown) => error as Error
        )
        const elapsed = performance.now() - started
        expect([error.name, (error as CallTimeoutError).timeout]).toEqual(['CallTimeoutError', timeout])
        expect(elapsed).toBeGreaterThanOrEqual(timeout - 50)
        expect(elapsed).toBeLessThan(timeout + MARGIN)
      }
      expect(await fs.readdir(work.path)).toEqual([])
    } finally {
      process.kill(silentNode.pid, 'SIGCONT')
      await other.close()
      await silentNode.stop()
    }
  })
})
