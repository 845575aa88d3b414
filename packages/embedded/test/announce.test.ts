import { randomBytes } from 'node:crypto'
import { createKuboCluster, createKuboNode, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedIpfs } from '../src/index.js'
import { openKubo, waitUntil } from './helpers.js'

/** Three 256 KiB chunks and a bit: a root and four leaves, so "every block" means more than the root. */
const CONTENT_SIZE = 3 * 262_144 + 1_000

/** Whether Kubo `node` has the block in its repo (`block stat --offline`: it fetches nothing). */
async function holdsBlock(node: KuboNode, cid: string): Promise<boolean> {
  const response = await fetch(`${node.apiUrl}/api/v0/block/stat?arg=${cid}&offline=true`, {
    method: 'POST',
    headers: node.authorization == null ? {} : { authorization: node.authorization }
  })
  const body = await response.text()
  if (response.ok) return true
  if (/not found locally|could not find/.test(body)) return false
  throw new Error(`block/stat on ${node.peerId} failed: ${response.status} ${body}`)
}

describe('what the embedded node publishes is announced on the DHT, as Kubo does', () => {
  let cluster: KuboCluster

  beforeAll(async () => {
    // a and b are connected to each other; the embedded node will be connected to a only.
    cluster = await createKuboCluster(2)
  })

  afterAll(async () => {
    await cluster?.stop()
  })

  it('a Kubo node connected to it only through a third peer finds every block by content routing and fetches it', async () => {
    const [a, b] = cluster.nodes
    if (a == null || b == null) throw new Error('no nodes')
    const kuboA = openKubo(a)
    const kuboB = openKubo(b)
    try {
      await using embedded = await createEmbeddedIpfs()
      const embeddedId = await embedded.peerId()
      await embedded.peers.connect(a.swarmAddrs[0] ?? '', { timeout: 10_000 })
      const data = randomBytes(CONTENT_SIZE)
      const cid = await embedded.content.publish(data)
      const blocks: string[] = []
      for await (const { cid: block } of embedded.helia.blockstore.getAll()) blocks.push(block.toString())
      // The root and four leaves (listed by multihash, as raw CIDs: provider records are keyed by multihash).
      expect(blocks).toHaveLength(5)

      // The test never connects b and the embedded node. Finding is by content routing: b's DHT
      // lookup (`routing findprovs`) names the embedded node as the provider of every block. In a
      // network this small the records land on a and on b itself, which the embedded node's DHT
      // walk reaches through a; the DHT also connects b and the embedded node on its own (Kubo
      // redials at once after a `swarm disconnect`), so the fetch below cannot tell how b found
      // the blocks: this lookup is what proves the announcement (without it, it names nobody).
      for (const block of [cid, ...blocks]) {
        await waitUntil(
          `Kubo b finds the embedded node as a provider of ${block}`,
          async () =>
            (await kuboB.peers.findProviders(block, { timeout: 10_000, maxProviders: 5 })).includes(
              embeddedId
            ),
          30_000
        )
      }
      // a, the only peer the test connected the embedded node to, never held the content.
      expect(await holdsBlock(a, cid)).toBe(false)
      const fetched = await kuboB.content.read(cid, { timeout: 30_000 })
      expect(Buffer.from(fetched).equals(data)).toBe(true)
      expect(await holdsBlock(a, cid)).toBe(false)
      expect(embedded.announcements.announced).toBeGreaterThanOrEqual(5)
    } finally {
      await kuboA.close()
      await kuboB.close()
    }
  })

  it('pin announces what it pinned: a Kubo node finds the embedded node among the providers', async () => {
    const [a, b] = cluster.nodes
    if (a == null || b == null) throw new Error('no nodes')
    const kuboA = openKubo(a)
    const kuboB = openKubo(b)
    try {
      const cid = await kuboA.content.publish(randomBytes(300_000), { cidVersion: 1 })
      await using embedded = await createEmbeddedIpfs()
      const embeddedId = await embedded.peerId()
      await embedded.peers.connect(a.swarmAddrs[0] ?? '', { timeout: 10_000 })
      await embedded.content.pin(cid, { timeout: 20_000 })
      await waitUntil(
        'Kubo b finds the embedded node as a provider of what it pinned',
        async () =>
          (await kuboB.peers.findProviders(cid, { timeout: 10_000, maxProviders: 5 })).includes(embeddedId),
        30_000
      )
      // The root and the two leaves it fetched and pinned.
      await waitUntil('all three blocks are announced', async () => embedded.announcements.announced === 3)
    } finally {
      await kuboA.close()
      await kuboB.close()
    }
  })

  it('what was published before the node had any DHT peer is announced once it has one', async () => {
    const [a, b] = cluster.nodes
    if (a == null || b == null) throw new Error('no nodes')
    const kuboB = openKubo(b)
    try {
      await using embedded = await createEmbeddedIpfs()
      const embeddedId = await embedded.peerId()
      const cid = await embedded.content.publish(randomBytes(1_000))
      // Tried at once with no peer to take it: still waiting, to be tried again.
      await waitUntil('the first attempt found no DHT peer', async () => embedded.announcements.pending === 1)
      expect(embedded.announcements.announced).toBe(0)
      await embedded.peers.connect(a.swarmAddrs[0] ?? '', { timeout: 10_000 })
      await waitUntil('the retry reaches a DHT peer', async () => embedded.announcements.announced === 1)
      expect(embedded.announcements.pending).toBe(0)
      expect(await kuboB.peers.findProviders(cid, { timeout: 10_000, maxProviders: 5 })).toContain(embeddedId)
    } finally {
      await kuboB.close()
    }
  })

  it("with dht: 'off' nothing is announced and publish and pin still work", async () => {
    await using embedded = await createEmbeddedIpfs({ dht: 'off' })
    const data = randomBytes(300_000)
    const cid = await embedded.content.publish(data)
    await embedded.content.pin(cid)
    expect(Buffer.from(await embedded.content.read(cid)).equals(data)).toBe(true)
    expect(embedded.announcements).toEqual({ pending: 0, announced: 0 })
  })

  it('publish does not wait for the DHT: it resolves while its announcement hangs on a frozen DHT peer', async () => {
    await using kubo = await createKuboNode()
    await using embedded = await createEmbeddedIpfs()
    await embedded.peers.connect(kubo.swarmAddrs[0] ?? '', { timeout: 10_000 })
    // First, proof that this Kubo node is in the embedded node's DHT and takes its records.
    await embedded.content.publish(randomBytes(100))
    await waitUntil('the first announcement reaches Kubo', async () => embedded.announcements.announced === 1)

    process.kill(kubo.pid, 'SIGSTOP')
    try {
      const started = Date.now()
      const cid = await embedded.content.publish(randomBytes(1_000), { timeout: 5_000 })
      expect(Date.now() - started).toBeLessThan(5_000)
      // The announcement of that CID has not finished: the only DHT peer is frozen.
      expect(embedded.announcements.pending).toBe(1)
      expect(embedded.announcements.announced).toBe(1)
      expect(new TextDecoder().decode(await embedded.content.read(cid)).length).toBeGreaterThan(0)
      // Closing ends the hanging announcement too.
      const closing = Date.now()
      await embedded.close()
      expect(Date.now() - closing).toBeLessThan(12_000)
      expect(embedded.announcements.pending).toBe(0)
    } finally {
      process.kill(kubo.pid, 'SIGCONT')
    }
  })
})
