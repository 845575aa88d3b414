import { randomBytes } from 'node:crypto'
import { createKuboCluster, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBitswapCommands } from '../src/commands/bitswap.js'
import { createProvideCommands } from '../src/commands/provide.js'
import { createRootCommands } from '../src/commands/root.js'
import { type Bandwidth, createStatsCommands } from '../src/commands/stats.js'
import { all, collect, commandsOn, eventually, sha256 } from './helpers.js'

const commandsFor = (node: KuboNode | undefined) =>
  commandsOn(node, {
    stats: createStatsCommands,
    bitswap: createBitswapCommands,
    provide: createProvideCommands,
    root: createRootCommands
  })

let cluster: KuboCluster
let a: ReturnType<typeof commandsFor>
let b: ReturnType<typeof commandsFor>
const content = randomBytes(300_000)
let contentCid = ''

beforeAll(async () => {
  // No StorageMax: Kubo then reports "no limit" (2^64-1).
  cluster = await createKuboCluster(2, { config: { Datastore: { StorageMax: '' } } })
  a = commandsFor(cluster.nodes[0])
  b = commandsFor(cluster.nodes[1])
  contentCid = (await a.root.add(content, { cidVersion: 1, rawLeaves: true })).cid
})

afterAll(async () => {
  await Promise.all([a, b].map(async commands => await commands?.invoker.transport.close()))
  await cluster?.stop()
})

describe('stats', () => {
  it('bw counts what B fetched from A, overall, per peer and per protocol', async () => {
    const before = await b.stats.bw()
    const beforeFromA = await b.stats.bw({ peer: a.node.peerId })
    expect(sha256(await collect(b.root.cat(contentCid)))).toBe(sha256(content))

    // Kubo's meters tick about once a second: wait for the traffic to show.
    const after = await eventually(
      async () => await b.stats.bw(),
      reading => reading.totalIn - before.totalIn >= content.byteLength
    )
    expect(after.totalIn - before.totalIn).toBeGreaterThanOrEqual(content.byteLength)
    expect(after.totalOut).toBeGreaterThanOrEqual(before.totalOut)
    const fromA = await b.stats.bw({ peer: a.node.peerId })
    expect(fromA.totalIn - beforeFromA.totalIn).toBeGreaterThanOrEqual(content.byteLength)
    expect(fromA.totalIn).toBeLessThanOrEqual(after.totalIn)
    const toB = await eventually(
      async () => await a.stats.bw({ peer: b.node.peerId }),
      reading => reading.totalOut >= content.byteLength
    )
    expect(toB.totalOut).toBeGreaterThanOrEqual(content.byteLength)

    const byProtocol = await b.stats.bw({ protocol: '/ipfs/bitswap/1.2.0' })
    expect(byProtocol).toEqual({
      totalIn: expect.any(Number),
      totalOut: expect.any(Number),
      rateIn: expect.any(Number),
      rateOut: expect.any(Number)
    })
    expect(byProtocol.totalIn).toBeLessThanOrEqual(after.totalIn)
  })

  it('bw with poll yields a reading per interval until the iteration stops', async () => {
    const readings: Array<{ at: number; reading: Bandwidth }> = []
    for await (const reading of a.stats.bw({ poll: true, interval: 200 })) {
      readings.push({ at: Date.now(), reading })
      if (readings.length === 4) break
    }
    expect(readings).toHaveLength(4)
    const first = readings[0]
    const last = readings[3]
    // Three intervals of 200 ms between the first and the fourth reading.
    expect((last?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(500)
    expect(last?.reading.totalIn).toBeGreaterThanOrEqual(first?.reading.totalIn ?? Number.POSITIVE_INFINITY)
    // The stream was closed by breaking out: the node still answers.
    expect((await a.stats.bw()).totalOut).toBeGreaterThanOrEqual(
      last?.reading.totalOut ?? Number.POSITIVE_INFINITY
    )
  })

  it('bitswap is bitswap stat: B counts the blocks it received', async () => {
    const [viaStats, viaBitswap] = await Promise.all([b.stats.bitswap(), b.bitswap.stat()])
    expect(viaStats).toEqual(viaBitswap)
    expect(viaStats.blocksReceived).toBeGreaterThanOrEqual(1)
    expect(viaStats.dataReceived).toBeGreaterThanOrEqual(content.byteLength)
    expect((await a.stats.bitswap()).dataSent).toBeGreaterThanOrEqual(content.byteLength)
  })

  it("dht lists the routing tables; B's LAN table holds A", async () => {
    const tables = await all(b.stats.dht())
    expect(tables.map(table => table.name)).toEqual(['wan', 'lan'])
    // Loopback addresses only count on the LAN DHT: the WAN table stays empty here.
    expect(tables[0]?.buckets).toEqual([])
    const peers = tables[1]?.buckets.flatMap(bucket => bucket.peers) ?? []
    expect(peers.map(peer => peer.id)).toEqual([a.node.peerId])
    expect(peers[0]).toMatchObject({ connected: true, agentVersion: expect.stringMatching(/^kubo\/0\.43\./) })

    const servers = await all(b.stats.dht(['lanserver', 'wanserver']))
    expect(servers.map(table => table.name)).toEqual(['lanserver', 'wanserver'])
    expect(servers[0]?.buckets.flatMap(bucket => bucket.peers).map(peer => peer.id)).toEqual([a.node.peerId])
    const refreshed = servers[0]?.buckets.find(bucket => bucket.lastRefresh != null)?.lastRefresh
    expect(refreshed?.getTime()).toBeLessThanOrEqual(Date.now())
  })

  it('provide and reprovide (deprecated) are provide stat', async () => {
    const [viaProvide, viaStats, viaReprovide] = await Promise.all([
      a.provide.stat({ lan: true }),
      a.stats.provide({ lan: true }),
      a.stats.reprovide({ lan: true })
    ])
    for (const stat of [viaStats, viaReprovide]) {
      if (stat.type !== 'sweep' || viaProvide.type !== 'sweep') throw new Error('expected the sweep provider')
      expect(stat.connectivity.status).toBe(viaProvide.connectivity.status)
      expect(stat.timing.reprovidesInterval).toBe(viaProvide.timing.reprovidesInterval)
      expect(stat.workers).toEqual(viaProvide.workers)
      expect(Object.keys(stat).sort()).toEqual(Object.keys(viaProvide).sort())
    }
  })

  it('repo reports size, objects, path and version; without StorageMax the limit is Infinity', async () => {
    const stat = await a.stats.repo()
    expect(stat.repoPath).toBe(a.node.repoPath)
    expect(stat.version).toMatch(/^fs-repo@\d+$/)
    expect(stat.storageMax).toBe(Number.POSITIVE_INFINITY)
    expect(stat.repoSize).toBeGreaterThanOrEqual(content.byteLength)

    const added = await a.root.add(randomBytes(1000), { cidVersion: 1, rawLeaves: true })
    expect(added.cid).toMatch(/^bafk/)
    // `add` stores the block and also a new root of its scratch MFS directory, so at least one more.
    expect((await a.stats.repo()).objectCount).toBeGreaterThan(stat.objectCount)

    expect(await a.stats.repo({ sizeOnly: true })).toEqual({
      repoSize: expect.any(Number),
      storageMax: Number.POSITIVE_INFINITY,
      objectCount: 0,
      repoPath: '',
      version: ''
    })
  })
})

describe('stats arguments', () => {
  it('rejects bad input before any request', async () => {
    await expect(a.stats.bw({ peer: 'nope' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peer'
    })
    await expect(a.stats.bw({ peer: b.node.peerId, protocol: '/ipfs/bitswap/1.2.0' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'protocol'
    })
    expect(() => a.stats.bw({ poll: true, interval: -5 })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'interval' })
    )
    expect(() => a.stats.dht(['lan', 'moon' as 'lan'])).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'tables' })
    )
  })
})
