import { randomBytes } from 'node:crypto'
import { InvalidArgumentError } from '@tk/rpc'
import { connect, createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { PeerNotFoundError } from '../src/peers.js'
import { openApi, useApis } from './content-helpers.js'

const withoutPeerId = (address: string): string => address.replace(/\/p2p\/[^/]+$/, '')

describe.each([['http'], ['cli']] as const)('peers (%s backend)', backend => {
  const suite = useApis(2, backend)

  it('listPeers lists the connected peer once', async () => {
    const [, b] = suite.nodes
    const [api] = suite.apis
    expect(await api.listPeers()).toEqual([b.peerId])
  })

  it('getPeerMultiaddrs gives the addresses A knows for B, ending in /p2p/<B>; none for an unknown peer', async () => {
    const [, b] = suite.nodes
    const [api] = suite.apis
    const addresses = await api.getPeerMultiaddrs(b.peerId)
    expect(addresses.length).toBeGreaterThan(0)
    for (const address of addresses) expect(address.endsWith(`/p2p/${b.peerId}`)).toBe(true)
    expect(addresses).toEqual(expect.arrayContaining([...b.swarmAddrs]))
    expect(new Set(addresses).size).toBe(addresses.length)

    await using stranger = await createKuboNode()
    expect(await api.getPeerMultiaddrs(stranger.peerId)).toEqual([])
  })

  it('findPeer finds a peer A never dialled through routing (B knows it); PeerNotFoundError for a stranger', async () => {
    const [, b] = suite.nodes
    const [api] = suite.apis
    // A may dial C itself as soon as B tells its DHT about C; what matters is that routing finds it.
    await using c = await createKuboNode()
    await connect(b, c)

    const found = await api.findPeer(c.peerId)
    expect(found.id).toBe(c.peerId)
    expect(found.addresses).toEqual(expect.arrayContaining([...c.swarmAddrs]))
    for (const address of found.addresses) expect(address.endsWith(`/p2p/${c.peerId}`)).toBe(true)

    await using stranger = await createKuboNode()
    const error = await api.findPeer(stranger.peerId).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PeerNotFoundError)
    expect((error as PeerNotFoundError).peerId).toBe(stranger.peerId)
  })

  it('disconnectFromPeer, then connectToPeer reconnects, by full multiaddr and by address + peerId', async () => {
    const [a, b] = suite.nodes
    const [api] = suite.apis
    const address = b.swarmAddrs[0] ?? ''
    const ways = [
      () => api.connectToPeer(address),
      () => api.connectToPeer(withoutPeerId(address), { peerId: b.peerId })
    ]
    for (const connectToB of ways) {
      expect(await api.disconnectFromPeer(b.peerId)).toBe(true)
      await expect.poll(async () => await api.listPeers(), { timeout: 10_000 }).not.toContain(b.peerId)
      expect(await api.disconnectFromPeer(b.peerId)).toBe(false)

      expect(await connectToB()).toBe(b.peerId)
      expect(await api.listPeers()).toContain(b.peerId)
    }
    // Put the LAN DHT back as the other tests expect it.
    await connect(a, b)
  })

  it('isPeerConnected: true for a connected peer (ping and connection check), false once it has stopped', async () => {
    const [, b] = suite.nodes
    const [api] = suite.apis
    expect(await api.isPeerConnected(b.peerId)).toBe(true)
    expect(await api.isPeerConnected(b.peerId, { ping: false })).toBe(true)

    const c = await createKuboNode()
    try {
      expect(await api.connectToPeer(c.swarmAddrs[0] ?? '')).toBe(c.peerId)
      expect(await api.isPeerConnected(c.peerId)).toBe(true)
    } finally {
      await c.stop()
    }
    expect(await api.isPeerConnected(c.peerId)).toBe(false)
    await expect
      .poll(async () => await api.isPeerConnected(c.peerId, { ping: false }), { timeout: 10_000 })
      .toBe(false)

    // Never seen and not findable: still an answer, not an error.
    await using stranger = await createKuboNode()
    expect(await api.isPeerConnected(stranger.peerId)).toBe(false)
  })

  it('findProviders from B finds A after A adds content', async () => {
    const [a, b] = suite.nodes
    const [api] = suite.apis
    const { cid } = await api.client.add(randomBytes(1024))
    await using fromB = openApi(b, backend)
    await expect
      .poll(async () => await fromB.findProviders(cid, { maxProviders: 5, timeout: 20_000 }), {
        timeout: 60_000,
        interval: 500
      })
      .toContain(a.peerId)
  })

  it('swarm filters: added, listed, removed, read back each time', async () => {
    const [api] = suite.apis
    const before = await api.listSwarmFilters()
    expect(before).not.toContain('/ip4/10.0.0.0/ipcidr/8')

    // Kubo lists a range by its network address.
    await api.addSwarmFilter('/ip4/10.1.2.3/ipcidr/8')
    await api.addSwarmFilter('/ip6/fd00::/ipcidr/8')
    const added = await api.listSwarmFilters()
    expect(added).toEqual(expect.arrayContaining(['/ip4/10.0.0.0/ipcidr/8', '/ip6/fd00::/ipcidr/8']))
    expect(added).toHaveLength(before.length + 2)

    await api.removeSwarmFilter('/ip4/10.0.0.0/ipcidr/8')
    const removed = await api.listSwarmFilters()
    expect(removed).not.toContain('/ip4/10.0.0.0/ipcidr/8')
    expect(removed).toContain('/ip6/fd00::/ipcidr/8')
    await api.removeSwarmFilter('/ip6/fd00::/ipcidr/8')
    expect(await api.listSwarmFilters()).toEqual(before)
  })

  it('a swarm filter keeps A from dialling B', async () => {
    const [a, b] = suite.nodes
    const [api] = suite.apis
    const address = b.swarmAddrs[0] ?? ''
    await api.addSwarmFilter('/ip4/127.0.0.0/ipcidr/8')
    try {
      await api.disconnectFromPeer(b.peerId)
      await expect.poll(async () => await api.listPeers(), { timeout: 10_000 }).not.toContain(b.peerId)
      await expect(api.connectToPeer(address, { timeout: 10_000 })).rejects.toThrow()
      expect(await api.listPeers()).not.toContain(b.peerId)
    } finally {
      await api.removeSwarmFilter('/ip4/127.0.0.0/ipcidr/8')
    }
    expect(await api.connectToPeer(address)).toBe(b.peerId)
    await connect(a, b)
  })

  it('rejects bad input before any request, naming the argument', async () => {
    const [a, b] = suite.nodes
    const [api] = suite.apis
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['peerId', () => api.getPeerMultiaddrs('not-a-peer')],
      ['peerId', () => api.findPeer('')],
      ['peerId', () => api.isPeerConnected('QmNotAPeerId')],
      ['multiaddr', () => api.connectToPeer('127.0.0.1:4001')],
      ['multiaddr', () => api.connectToPeer('/ip4/127.0.0.1/tcp/notaport')],
      ['multiaddr', () => api.connectToPeer('/ip4/127.0.0.1/tcp/4001')],
      ['peerId', () => api.connectToPeer('/ip4/127.0.0.1/tcp/4001', { peerId: 'bad' })],
      ['peerId', () => api.connectToPeer(b.swarmAddrs[0] ?? '', { peerId: a.peerId })],
      ['cid', () => api.findProviders('bafy-not-a-cid')],
      [
        'maxProviders',
        () => api.findProviders('QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB', { maxProviders: 0 })
      ],
      ['filter', () => api.addSwarmFilter('/ip4/10.0.0.1/tcp/80')],
      ['filter', () => api.addSwarmFilter('10.0.0.0/8')],
      ['filter', () => api.removeSwarmFilter('/ip4/999.0.0.0/ipcidr/8')]
    ]
    for (const [argument, call] of cases) {
      const error = await call().catch((caught: unknown) => caught)
      expect(error, argument).toBeInstanceOf(InvalidArgumentError)
      expect((error as InvalidArgumentError).argument).toBe(argument)
    }
  })
})
