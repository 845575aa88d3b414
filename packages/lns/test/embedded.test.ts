import path from 'node:path'
import { createIpfs } from '@tk/api'
import { createEmbeddedIpfs } from '@tk/embedded'
import type { Ipfs } from '@tk/interface'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type ContactUnreachableError, openContacts } from '../src/index.js'
import { closedPort, randomPeerId, silentServer, tempDir } from './helpers.js'

/**
 * Contacts on both modes: an embedded node (@tk/embedded, in this process) and Kubo nodes (through
 * @tk/api), each side's store reaching the other. Nobody has routing (Kubo `Routing.Type: none`,
 * the embedded node `dht: 'off'`): what the contact remembers is what brings peers together.
 */
const NO_ROUTING = { config: { Routing: { Type: 'none' } } }

async function eventually(check: () => Promise<boolean>, what: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** A Kubo node's TCP address without `/p2p/…` (the embedded node speaks TCP only). */
function tcpAddress(node: KuboNode): string {
  const address = node.swarmAddrs.find(candidate => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(candidate))
  if (address == null)
    throw new Error(`Kubo listens on no loopback TCP address: ${node.swarmAddrs.join(', ')}`)
  return address.replace(`/p2p/${node.peerId}`, '')
}

/** Both ends close every connection to each other, and each is seen to have none left. */
async function dropConnection(one: Ipfs, other: Ipfs): Promise<void> {
  const [oneId, otherId] = await Promise.all([one.peerId(), other.peerId()])
  await one.peers.disconnect(otherId)
  await other.peers.disconnect(oneId)
  await eventually(
    async () => !(await one.peers.list()).includes(otherId) && !(await other.peers.list()).includes(oneId),
    'both ends dropped the connection'
  )
}

describe('contacts on an embedded node and on Kubo', () => {
  let kuboNodes: KuboNode[]
  let kubos: Array<ReturnType<typeof createIpfs>>
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
    kuboNodes = await Promise.all([createKuboNode(NO_ROUTING), createKuboNode(NO_ROUTING)])
    kubos = kuboNodes.map(node => createIpfs({ backend: 'http', api: node.apiUrl }))
  })

  afterEach(async () => {
    await Promise.all((kubos ?? []).map(kubo => kubo.close()))
    await Promise.all((kuboNodes ?? []).map(node => node.stop()))
    await dir[Symbol.asyncDispose]()
  })

  it('an embedded node remembers a Kubo peer and reconnects to it after a disconnect', async () => {
    const [kuboNode] = kuboNodes as [KuboNode]
    const [kubo] = kubos as [ReturnType<typeof createIpfs>]
    // Listening on nothing: only the embedded node can dial, so after the drop nothing but the
    // contacts store can bring the connection back (a CI run under load once found it back before
    // ensureConnected ran, and a Kubo that can dial the embedded node could be why).
    await using embedded = await createEmbeddedIpfs({ dht: 'off', listen: [] })
    const embeddedId = await embedded.peerId()
    await using contacts = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: embedded })
    const address = tcpAddress(kuboNode)
    await contacts.addContact(kuboNode.peerId, 'kubo', { addresses: [address] })

    const first = await contacts.ensureConnected('kubo')
    expect(first).toMatchObject({ peerId: kuboNode.peerId, via: 'remembered-address', address })
    expect(first.attempts).toEqual([{ address, outcome: 'connected', ms: expect.any(Number) }])
    expect(await embedded.peers.list()).toEqual([kuboNode.peerId])
    // The peer at the other end is this embedded node, as Kubo authenticated it.
    await eventually(
      async () => (await kubo.peers.list()).includes(embeddedId),
      'Kubo lists the embedded node'
    )

    await dropConnection(embedded, kubo)
    const again = await contacts.ensureConnected('kubo')
    if (again.via === 'already-connected') {
      // Say who brought it back, so a failure here tells where to look.
      const back = await embedded.peers.connections(kuboNode.peerId)
      expect.fail(`the connection came back before ensureConnected: ${JSON.stringify(back)}`)
    }
    expect(again).toMatchObject({ peerId: kuboNode.peerId, via: 'remembered-address', address })
    expect(await embedded.peers.isConnected(kuboNode.peerId, { timeout: 5_000 })).toBe(true)
    await eventually(async () => (await kubo.peers.list()).includes(embeddedId), 'Kubo lists it again')
    expect((await contacts.getContact('kubo'))?.addresses).toMatchObject([
      { multiaddr: address, successes: 2 }
    ])

    // Both modes' peers.connections: the address in use and who dialled, seen from each end.
    expect(await embedded.peers.connections(kuboNode.peerId)).toEqual([
      { peerId: kuboNode.peerId, address: `${address}/p2p/${kuboNode.peerId}`, direction: 'outbound' }
    ])
    expect((await kubo.peers.connections(embeddedId)).map(connection => connection.direction)).toEqual([
      'inbound'
    ])
    expect(await kubo.peers.connections(randomPeerId())).toEqual([])

    // Connected now: answered from the node's connections, nothing dialled, nothing counted.
    const connected = await contacts.ensureConnected(kuboNode.peerId)
    expect(connected).toMatchObject({ via: 'already-connected', address, attempts: [] })
    expect((await contacts.getContact('kubo'))?.addresses[0]?.successes).toBe(2)
  })

  it('a Kubo-mode store remembers an embedded peer and reconnects to it after a disconnect', async () => {
    const [kubo] = kubos as [ReturnType<typeof createIpfs>]
    const kuboId = (kuboNodes[0] as KuboNode).peerId
    await using embedded = await createEmbeddedIpfs({ dht: 'off' })
    const embeddedId = await embedded.peerId()
    const [announced] = await embedded.addresses()
    const address = (announced ?? '').replace(`/p2p/${embeddedId}`, '')
    expect(address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    await using contacts = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: kubo })
    await contacts.addContact(embeddedId, 'embedded', { addresses: [address] })

    const first = await contacts.ensureConnected('embedded')
    expect(first).toMatchObject({ peerId: embeddedId, via: 'remembered-address', address })
    await eventually(
      async () => (await embedded.peers.list()).includes(kuboId),
      'the embedded node lists Kubo'
    )

    await dropConnection(kubo, embedded)
    const again = await contacts.ensureConnected('embedded')
    expect(again).toMatchObject({ peerId: embeddedId, via: 'remembered-address', address })
    expect(await kubo.peers.list()).toContain(embeddedId)
    await eventually(
      async () => (await embedded.peers.list()).includes(kuboId),
      'the embedded node lists Kubo again'
    )
    expect(await kubo.peers.connections(embeddedId)).toEqual([
      { peerId: embeddedId, address: `${address}/p2p/${embeddedId}`, direction: 'outbound' }
    ])
    expect((await embedded.peers.connections(kuboId)).map(connection => connection.direction)).toEqual([
      'inbound'
    ])
    expect((await contacts.getContact('embedded'))?.addresses).toMatchObject([
      { multiaddr: address, successes: 2 }
    ])
  })

  it('reconnects several contacts at once, each to its own peer, past an address where another peer listens', async () => {
    await using embedded = await createEmbeddedIpfs({ dht: 'off' })
    await using other = await createEmbeddedIpfs({ dht: 'off' })
    const otherId = await other.peerId()
    const otherAddress = ((await other.addresses())[0] ?? '').replace(`/p2p/${otherId}`, '')
    const peers = [
      {
        name: 'kubo-1',
        peerId: (kuboNodes[0] as KuboNode).peerId,
        address: tcpAddress(kuboNodes[0] as KuboNode)
      },
      {
        name: 'kubo-2',
        peerId: (kuboNodes[1] as KuboNode).peerId,
        address: tcpAddress(kuboNodes[1] as KuboNode)
      },
      { name: 'embedded', peerId: otherId, address: otherAddress }
    ]
    await using contacts = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: embedded })
    for (const [index, peer] of peers.entries()) {
      // Each contact also remembers, ranked first, the address where the next peer listens: dialled
      // as this contact, the handshake meets the wrong peer id and must not connect or be credited.
      const decoy = (peers[(index + 1) % peers.length] as (typeof peers)[number]).address
      await contacts.addContact(peer.peerId, peer.name, { addresses: [peer.address] })
      // A sleep that is needed: addresses rank by when they were last seen (ms); the decoy is later.
      await new Promise(resolve => setTimeout(resolve, 5))
      await contacts.rememberAddresses(peer.name, [decoy])
    }

    const results = await Promise.all(peers.map(peer => contacts.ensureConnected(peer.name)))
    expect(results.map(result => [result.peerId, result.via, result.address])).toEqual(
      peers.map(peer => [peer.peerId, 'remembered-address', peer.address])
    )
    // The node holds exactly these three peers, each connection at its own peer's address.
    expect((await embedded.peers.list()).sort()).toEqual(peers.map(peer => peer.peerId).sort())
    for (const peer of peers) {
      const connections = await embedded.peers.connections(peer.peerId)
      expect(connections.map(connection => connection.address)).toEqual([
        `${peer.address}/p2p/${peer.peerId}`
      ])
      const contact = await contacts.getContact(peer.name)
      expect(
        Object.fromEntries(contact?.addresses.map(known => [known.multiaddr, known.successes]) ?? [])
      ).toEqual({
        [peer.address]: 1,
        [(peers[(peers.indexOf(peer) + 1) % peers.length] as (typeof peers)[number]).address]: 0
      })
    }
    const embeddedId = await embedded.peerId()
    for (const kubo of kubos) {
      await eventually(
        async () => (await kubo.peers.list()).includes(embeddedId),
        'each Kubo node lists the embedded node'
      )
    }
    await eventually(
      async () => (await other.peers.list()).includes(embeddedId),
      'the other embedded node lists it'
    )
  })

  it('on an embedded node, routing (peers.find) brings back a known peer; an unknown one fails with what it said', async () => {
    const [kuboNode] = kuboNodes as [KuboNode]
    const [kubo] = kubos as [ReturnType<typeof createIpfs>]
    await using embedded = await createEmbeddedIpfs({ dht: 'off' })
    await using contacts = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: embedded })
    const address = tcpAddress(kuboNode)
    await embedded.peers.connect(`${address}/p2p/${kuboNode.peerId}`, { timeout: 10_000 })
    await dropConnection(embedded, kubo)

    // Not a contact, nothing remembered: the node's peer store (what `peers.find` reads first without
    // a DHT) still knows where the peer was.
    const result = await contacts.ensureConnected(kuboNode.peerId)
    expect(result).toMatchObject({ peerId: kuboNode.peerId, via: 'routing', address, attempts: [] })
    expect(await embedded.peers.list()).toEqual([kuboNode.peerId])

    const unknown = randomPeerId()
    const failure = (await contacts
      .ensureConnected(unknown, { timeout: 10_000 })
      .catch((error: unknown) => error)) as ContactUnreachableError
    expect(failure).toMatchObject({
      name: 'ContactUnreachableError',
      peerId: unknown,
      timedOut: false,
      attempts: [],
      routing: {
        tried: true,
        found: false,
        addresses: [],
        error: 'the routing system does not know this peer'
      }
    })
  })

  it('a contact whose addresses are dead fails within a short timeout while a good one reconnects', async () => {
    const [kuboNode] = kuboNodes as [KuboNode]
    await using embedded = await createEmbeddedIpfs({ dht: 'off' })
    await using silent = await silentServer()
    const refused = `/ip4/127.0.0.1/tcp/${await closedPort()}`
    await using contacts = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: embedded })
    const deadId = randomPeerId()
    await contacts.addContact(deadId, 'dead', { addresses: [refused, silent.address] })
    await contacts.addContact(kuboNode.peerId, 'good', { addresses: [tcpAddress(kuboNode)] })

    const timeout = 1_500
    const settled: string[] = []
    const started = Date.now()
    const dead = contacts.ensureConnected('dead', { timeout }).then(
      () => {
        throw new Error('a contact with only dead addresses connected')
      },
      (error: unknown) => {
        settled.push('dead')
        return { error: error as ContactUnreachableError, elapsed: Date.now() - started }
      }
    )
    const good = contacts.ensureConnected('good').then(result => {
      settled.push('good')
      return result
    })
    const [failure, result] = await Promise.all([dead, good])

    expect(result).toMatchObject({ peerId: kuboNode.peerId, via: 'remembered-address' })
    expect(await embedded.peers.list()).toEqual([kuboNode.peerId])
    // The good contact did not wait for the dead one's deadline.
    expect(settled).toEqual(['good', 'dead'])

    expect(failure.error).toMatchObject({
      name: 'ContactUnreachableError',
      peerId: deadId,
      contactName: 'dead',
      timedOut: true,
      routing: { tried: false }
    })
    expect(failure.error.message).toContain(`within ${timeout} ms`)
    expect(failure.error.attempts.map(attempt => attempt.address).sort()).toEqual(
      [refused, silent.address].sort()
    )
    // The node joins dials to one peer (as Kubo does), so the refused address may wait for the silent
    // one; the silent one is always still dialling at the deadline.
    expect(failure.error.attempts.find(attempt => attempt.address === refused)?.error).toMatch(
      /refused|still dialling when the call ended/i
    )
    expect(failure.error.attempts.find(attempt => attempt.address === silent.address)?.error).toBe(
      'still dialling when the call ended (its timeout, or its signal)'
    )
    expect(failure.elapsed).toBeGreaterThanOrEqual(timeout - 10)
    expect(failure.elapsed).toBeLessThan(timeout + 2_000)
    // The hanging dial was given up, not left open.
    await eventually(async () => silent.open() === 0, 'the hanging dial was closed')
    expect((await contacts.getContact('dead'))?.addresses.map(known => known.successes)).toEqual([0, 0])
  })
})
