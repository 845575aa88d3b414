import { randomBytes } from 'node:crypto'
import net from 'node:net'
import path from 'node:path'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedIpfs } from '../src/index.js'
import { type KuboApi, openKubo, temporaryDirectory, waitUntil } from './helpers.js'

describe('peers and identity with Kubo', () => {
  let kuboNode: KuboNode
  let kubo: KuboApi

  beforeAll(async () => {
    kuboNode = await createKuboNode()
    kubo = openKubo(kuboNode)
  })

  afterAll(async () => {
    await kubo?.close()
    await kuboNode?.stop()
  })

  it('embedded connects to Kubo, both list each other, isConnected pings, find answers; disconnect ends it on both', async () => {
    await using embedded = await createEmbeddedIpfs()
    const embeddedId = await embedded.peerId()
    expect(await embedded.peers.connect(kuboNode.swarmAddrs[0] ?? '', { timeout: 10_000 })).toBe(
      kuboNode.peerId
    )
    expect(await embedded.peers.list()).toEqual([kuboNode.peerId])
    await waitUntil('Kubo lists the embedded node', async () => (await kubo.listPeers()).includes(embeddedId))
    expect(await embedded.peers.isConnected(kuboNode.peerId, { timeout: 5_000 })).toBe(true)
    const found = await embedded.peers.find(kuboNode.peerId)
    expect(found.addresses).toContain(kuboNode.swarmAddrs[0])
    expect(await embedded.peers.disconnect(kuboNode.peerId)).toBe(true)
    expect(await embedded.peers.list()).toEqual([])
    await waitUntil('Kubo no longer lists it', async () => !(await kubo.listPeers()).includes(embeddedId))
    expect(await embedded.peers.disconnect(kuboNode.peerId)).toBe(false)
    expect(await embedded.peers.isConnected(kuboNode.peerId, { ping: false })).toBe(false)
  })

  it('Kubo connects to the embedded node at the address it reports', async () => {
    await using embedded = await createEmbeddedIpfs()
    const embeddedId = await embedded.peerId()
    const [address] = await embedded.addresses()
    expect(address).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${embeddedId}$`))
    expect(await kubo.connectToPeer(address ?? '')).toBe(embeddedId)
    await waitUntil('the embedded node lists Kubo', async () =>
      (await embedded.peers.list()).includes(kuboNode.peerId)
    )
  })

  it('connecting to a peer that accepts TCP but never answers settles with CallTimeoutError within its timeout', async () => {
    await using embedded = await createEmbeddedIpfs()
    const sockets = new Set<net.Socket>()
    const silent = net.createServer(socket => {
      sockets.add(socket)
    })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = silent.address() as net.AddressInfo
      const started = Date.now()
      const error = await embedded.peers
        .connect(`/ip4/127.0.0.1/tcp/${port}/p2p/${kuboNode.peerId}`, { timeout: 1_000 })
        .catch((caught: unknown) => caught)
      const elapsed = Date.now() - started
      expect((error as Error).name).toBe('CallTimeoutError')
      expect(elapsed).toBeGreaterThanOrEqual(990)
      expect(elapsed).toBeLessThan(3_000)
      expect(sockets.size).toBe(1)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => silent.close(resolve))
    }
  })

  it('a node restarted on the same repo keeps its peer id, its IPNS keys, its pins and its blocks', async () => {
    await using work = await temporaryDirectory('repo')
    const repo = path.join(work.path, 'node')
    const content = randomBytes(300_000)
    let peerId: string
    let cid: string
    let keyId: string
    {
      await using first = await createEmbeddedIpfs({ repo })
      peerId = await first.peerId()
      cid = await first.content.publish(content)
      keyId = await first.ipns.createKey('kept')
    }
    await using second = await createEmbeddedIpfs({ repo })
    expect(await second.peerId()).toBe(peerId)
    expect(await second.ipns.listKeys()).toContainEqual({ name: 'kept', id: keyId })
    expect(await second.content.pins({ cidsOnly: true })).toEqual([cid])
    // Read with no peer connected: the blocks came from the repo.
    expect(await second.peers.list()).toEqual([])
    expect(Buffer.from(await second.content.read(cid, { timeout: 5_000 })).equals(content)).toBe(true)
    // And Kubo can fetch them from the restarted node.
    await second.peers.connect(kuboNode.swarmAddrs[0] ?? '', { timeout: 10_000 })
    expect(Buffer.from(await kubo.read(cid, { timeout: 20_000 })).equals(content)).toBe(true)
  })

  it('an ephemeral node gets a new peer id each time; calls after close reject with NodeClosedError', async () => {
    const first = await createEmbeddedIpfs()
    const second = await createEmbeddedIpfs()
    expect(await first.peerId()).not.toBe(await second.peerId())
    await first.close()
    await second.close()
    await second.close()
    const error = await first.content
      .read('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
      .catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('NodeClosedError')
    const closed = await first.ipns.resolve('self').catch((caught: unknown) => caught)
    expect((closed as Error).name).toBe('NodeClosedError')
  })
})
