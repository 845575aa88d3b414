import { randomBytes } from 'node:crypto'
import { createKuboCluster, type KuboCluster } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedIpfs } from '../src/index.js'
import { openKubo } from './helpers.js'

describe("the embedded node on Kubo's LAN DHT", () => {
  let cluster: KuboCluster

  beforeAll(async () => {
    cluster = await createKuboCluster(2)
  })

  afterAll(async () => {
    await cluster?.stop()
  })

  it('finds a peer it is not connected to, through a Kubo node that knows it', async () => {
    const [a, b] = cluster.nodes
    if (a == null || b == null) throw new Error('no nodes')
    await using embedded = await createEmbeddedIpfs()
    await embedded.peers.connect(a.swarmAddrs[0] ?? '', { timeout: 10_000 })
    expect(await embedded.peers.list()).toEqual([a.peerId])
    const found = await embedded.peers.find(b.peerId, { timeout: 20_000 })
    expect(found.id).toBe(b.peerId)
    expect(found.addresses).toContain(b.swarmAddrs[0])
  })

  it('finds the Kubo node that provides a CID', async () => {
    const [a, b] = cluster.nodes
    if (a == null || b == null) throw new Error('no nodes')
    const kuboB = openKubo(b)
    try {
      const cid = await kuboB.publish(randomBytes(100))
      await using embedded = await createEmbeddedIpfs()
      await embedded.peers.connect(a.swarmAddrs[0] ?? '', { timeout: 10_000 })
      let providers: string[] = []
      const deadline = Date.now() + 30_000
      // Kubo announces what it adds in the background; ask again until it has.
      while (!providers.includes(b.peerId) && Date.now() < deadline) {
        providers = await embedded.peers.findProviders(cid, { timeout: 10_000, maxProviders: 1 })
        if (!providers.includes(b.peerId)) await new Promise(resolve => setTimeout(resolve, 500))
      }
      expect(providers).toEqual([b.peerId])
    } finally {
      await kuboB.close()
    }
  })

  it("with dht: 'off', findProviders says the mode cannot and a peer it cannot see is not found", async () => {
    const [a, b] = cluster.nodes
    if (a == null || b == null) throw new Error('no nodes')
    await using embedded = await createEmbeddedIpfs({ dht: 'off' })
    await embedded.peers.connect(a.swarmAddrs[0] ?? '', { timeout: 10_000 })
    await expect(
      embedded.peers.findProviders(await embedded.content.predictCid(Uint8Array.of(1)))
    ).rejects.toMatchObject({
      name: 'ModeNotSupportedError'
    })
    await expect(embedded.peers.find(b.peerId, { timeout: 5_000 })).rejects.toMatchObject({
      name: 'PeerNotFoundError'
    })
  })
})
