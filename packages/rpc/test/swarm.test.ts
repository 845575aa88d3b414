import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createSwarmCommands } from '../src/commands/swarm.js'
import { httpTransport } from '../src/http-transport.js'
import { Invoker } from '../src/invoker.js'

/** `/ip4/127.0.0.1/tcp/4001/p2p/12D3…` → `/ip4/127.0.0.1/tcp/4001`. */
function withoutPeerId(address: string): string {
  return address.replace(/\/p2p\/[^/]+$/, '')
}

describe('swarm', () => {
  let a: KuboNode
  let b: KuboNode
  let invoker: Invoker
  let swarm: ReturnType<typeof createSwarmCommands>

  beforeAll(async () => {
    // Two separately started nodes: nothing connects them but the test.
    ;[a, b] = await Promise.all([createKuboNode(), createKuboNode()])
    invoker = new Invoker(httpTransport({ apiUrl: a.apiUrl }))
    swarm = createSwarmCommands(invoker)
  })

  afterAll(async () => {
    await invoker?.transport.close()
    await Promise.all([a?.stop(), b?.stop()])
  })

  // Each test sets up the connection state it needs, so that any one can run alone or in any order.
  const isConnected = async (): Promise<boolean> =>
    (await swarm.peers()).some(peer => peer.peerId === b.peerId)
  const connected = async (): Promise<void> => {
    if (!(await isConnected())) await swarm.connect(b.swarmAddrs[0] ?? '')
  }
  const disconnected = async (): Promise<void> => {
    if (await isConnected()) await swarm.disconnect(`/p2p/${b.peerId}`)
    await vi.waitFor(async () => expect(await isConnected()).toBe(false), { timeout: 10_000, interval: 100 })
  }

  it('connect opens a connection that peers lists with its peer id and address', async () => {
    const bAddress = b.swarmAddrs[0] ?? ''
    await disconnected()
    expect(await swarm.peers()).not.toContainEqual(expect.objectContaining({ peerId: b.peerId }))

    expect(await swarm.connect(bAddress)).toEqual([{ peerId: b.peerId, success: true }])

    const peers = await swarm.peers()
    expect(peers).toContainEqual({ peerId: b.peerId, address: withoutPeerId(bAddress) })
  })

  it('peers with verbose reports direction, streams and identify', async () => {
    await connected()
    await vi.waitFor(
      async () => {
        const peer = (await swarm.peers({ verbose: true })).find(item => item.peerId === b.peerId)
        expect(peer?.direction).toBe('outbound')
        expect(peer?.identify?.id).toBe(b.peerId)
        expect(peer?.identify?.agentVersion).toMatch(/^kubo\//)
        expect(peer?.identify?.addresses).toContain(b.swarmAddrs[0])
        expect(peer?.identify?.protocols).toContain('/ipfs/id/1.0.0')
        expect(Array.isArray(peer?.streams)).toBe(true)
      },
      { timeout: 10_000, interval: 100 }
    )
    const [peer] = (await swarm.peers({ direction: true })).filter(item => item.peerId === b.peerId)
    // Only what was asked for: no identify, latency or streams.
    expect(peer).toEqual({
      peerId: b.peerId,
      address: withoutPeerId(b.swarmAddrs[0] ?? ''),
      direction: 'outbound'
    })
    await vi.waitFor(
      async () => {
        const [measured] = (await swarm.peers({ latency: true })).filter(item => item.peerId === b.peerId)
        expect(measured?.latency).toBeGreaterThan(0)
        expect(measured?.latency).toBeLessThan(10_000)
      },
      { timeout: 10_000, interval: 200 }
    )
  })

  it('addrs maps peer ids (kept as keys) to the addresses known for them', async () => {
    await connected()
    const known = await swarm.addrs()
    expect(Object.keys(known)).toContain(b.peerId)
    expect(known[b.peerId]).toContain(withoutPeerId(b.swarmAddrs[0] ?? ''))
  })

  it('addrs listen and local contain the node’s own swarm address', async () => {
    const own = withoutPeerId(a.swarmAddrs[0] ?? '')
    expect(await swarm.addrs.listen()).toContain(own)
    expect(await swarm.addrs.local()).toContain(own)
    expect(await swarm.addrs.local({ id: true })).toContain(a.swarmAddrs[0])
  })

  it('addrs autonat reports a reachability and per-address lists', async () => {
    const result = await swarm.addrs.autonat()
    // No public AutoNAT servers on an isolated loopback node, so nothing can be confirmed either way.
    expect(result.reachability).toMatch(/^(Unknown|Private|Public)$/)
    expect(result.reachable).toEqual([])
    expect(Array.isArray(result.unreachable)).toBe(true)
    expect(Array.isArray(result.unknown)).toBe(true)
  })

  it('resources reports limits and usage per scope, with peer ids as keys', async () => {
    await connected()
    const resources = await swarm.resources()
    expect(resources.system.connectionsUsage).toBeGreaterThanOrEqual(1)
    expect(typeof resources.system.memory === 'number' || typeof resources.system.memory === 'string').toBe(
      true
    )
    expect(resources.system.memoryUsage).toBeGreaterThanOrEqual(0)
    expect(Object.keys(resources.peers)).toContain(b.peerId)
    expect(resources.peers[b.peerId]?.connectionsUsage).toBeGreaterThanOrEqual(1)
    expect(Object.keys(resources.services).length).toBeGreaterThan(0)
  })

  it('disconnect closes the connection and peers no longer lists it', async () => {
    // Nodes of its own without a DHT: with one, b dialled a back within milliseconds of the
    // disconnect (2 runs of 3) and peers listed it again, as a new inbound connection.
    const init = { config: { Routing: { Type: 'none' } } }
    const [near, far] = await Promise.all([createKuboNode(init), createKuboNode(init)])
    const transport = httpTransport({ apiUrl: near.apiUrl })
    try {
      const own = createSwarmCommands(new Invoker(transport))
      const address = far.swarmAddrs[0] ?? ''
      expect(await own.connect(address)).toEqual([{ peerId: far.peerId, success: true }])
      expect((await own.peers()).map(peer => peer.peerId)).toContain(far.peerId)
      expect(await own.disconnect(address)).toEqual([{ peerId: far.peerId, success: true }])
      expect((await own.peers()).map(peer => peer.peerId)).not.toContain(far.peerId)
    } finally {
      await transport.close()
      await Promise.all([near.stop(), far.stop()])
    }
  })

  it('disconnect from a peer that is not connected reports the failure', async () => {
    const nobody = '12D3KooWPRk6tA7nvxA1JnxwEL9RDvGr5GfzHY5qJ4AvquyCU4dD'
    const [result] = await swarm.disconnect(`/ip4/127.0.0.1/tcp/1/p2p/${nobody}`)
    expect(result).toEqual({ peerId: nobody, success: false, error: 'conn not found' })
  })

  it('filters add → list → rm', async () => {
    const filter = '/ip4/10.0.0.0/ipcidr/8'
    expect(await swarm.filters()).not.toContain(filter)
    expect(await swarm.filters.add(filter)).toEqual([filter])
    expect(await swarm.filters()).toContain(filter)
    expect(await swarm.filters.rm(filter)).toEqual([filter])
    expect(await swarm.filters()).not.toContain(filter)
  })

  it('filters rm all removes every filter', async () => {
    const filters = ['/ip4/192.168.0.0/ipcidr/16', '/ip4/172.16.0.0/ipcidr/12']
    expect(await swarm.filters.add(filters)).toEqual(filters)
    expect((await swarm.filters.rm('all')).sort()).toEqual([...filters].sort())
    expect(await swarm.filters()).toEqual([])
  })

  it('peering add → ls → rm', async () => {
    const bAddress = b.swarmAddrs[0] ?? ''
    expect(await swarm.peering.add(bAddress)).toEqual([b.peerId])
    expect(await swarm.peering.ls()).toContainEqual({ id: b.peerId, addresses: [withoutPeerId(bAddress)] })
    expect(await swarm.peering.rm(b.peerId)).toEqual([b.peerId])
    expect((await swarm.peering.ls()).map(peer => peer.id)).not.toContain(b.peerId)
  })

  it('rejects bad input before any request', async () => {
    await expect(swarm.connect('127.0.0.1:4001')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'address'
    })
    await expect(swarm.connect([])).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'address'
    })
    await expect(swarm.filters.add('10.0.0.0/8')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'filter'
    })
    await expect(swarm.peering.add('/ip4/127.0.0.1/tcp/4001')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'address'
    })
    await expect(swarm.peering.rm('not-a-peer')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peerId'
    })
  })

  it('surfaces Kubo’s error when a dial fails', async () => {
    // A peer nobody runs, at a port nothing listens on: the dial is refused.
    const nobody = '12D3KooWPRk6tA7nvxA1JnxwEL9RDvGr5GfzHY5qJ4AvquyCU4dD'
    await expect(
      swarm.connect(`/ip4/127.0.0.1/tcp/1/p2p/${nobody}`, { timeout: 20_000 })
    ).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: expect.stringContaining(`connect ${nobody} failure`)
    })
  })
})
