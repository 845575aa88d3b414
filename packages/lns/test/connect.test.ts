import path from 'node:path'
import { createIpfs } from '@tk/api'
import { createKuboClient, type KuboClient } from '@tk/rpc'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type ContactConnectDetail,
  type ContactUnreachableError,
  monitorContacts,
  openContacts
} from '../src/index.js'
import { closedPort, randomPeerId, silentServer, tempDir } from './helpers.js'

/** Nodes whose routing cannot find anyone: only what the contact remembers can bring them together. */
const NO_ROUTING = { config: { Routing: { Type: 'none' } } }

async function isConnected(client: KuboClient, peerId: string): Promise<boolean> {
  return (await client.swarm.peers()).some(peer => peer.peerId === peerId)
}

async function eventually(check: () => Promise<boolean>, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe('ensureConnected against real Kubo daemons without routing', () => {
  let a: KuboNode
  let b: KuboNode
  let clientA: KuboClient
  let clientB: KuboClient
  /** A's node as contacts take it: @tk/interface's `Ipfs`, here @tk/api on Kubo over HTTP. */
  let ipfsA: ReturnType<typeof createIpfs>
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeEach(async () => {
    dir = await tempDir()
    ;[a, b] = await Promise.all([createKuboNode(NO_ROUTING), createKuboNode(NO_ROUTING)])
    clientA = createKuboClient({ apiUrl: a.apiUrl })
    clientB = createKuboClient({ apiUrl: b.apiUrl })
    ipfsA = createIpfs({ backend: 'http', api: a.apiUrl })
  })

  afterEach(async () => {
    await Promise.all([clientA?.close(), clientB?.close(), ipfsA?.close()])
    await Promise.all([a?.stop(), b?.stop()])
    await dir[Symbol.asyncDispose]()
  })

  /** Both sides drop the connection, and neither dials the other again by itself. */
  async function forgetEachOther(): Promise<void> {
    // Whichever side still has the connection closes it; the other answers "not connected".
    await clientA.swarm.disconnect(`/p2p/${b.peerId}`)
    await clientB.swarm.disconnect(`/p2p/${a.peerId}`)
    await eventually(
      async () => !(await isConnected(clientA, b.peerId)) && !(await isConnected(clientB, a.peerId)),
      'both nodes have dropped the connection'
    )
    // No bootstrap, no mDNS, no peering in testkit nodes: nothing redials. Not checked by waiting here:
    // a redial would show as `via: 'already-connected'` where each test expects a dial it counts.
  }

  it('reconnects through a remembered address, which without the contact cannot happen', async () => {
    await using store = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: ipfsA })
    await using stranger = await openContacts({ path: path.join(dir.path, 'empty.json'), ipfs: ipfsA })
    await store.addContact(b.peerId, 'bob')

    // First meeting, by hand: the contact learns where bob was found.
    await clientA.swarm.connect(b.swarmAddrs)
    const first = await store.ensureConnected('bob')
    expect(first).toMatchObject({ peerId: b.peerId, via: 'already-connected', attempts: [] })
    expect(b.swarmAddrs).toContain(`${first.address}/p2p/${b.peerId}`)
    await store.rememberAddresses('bob', [first.address])

    await forgetEachOther()

    // Without the contact there is nothing to dial, and routing knows nobody.
    const failure = (await stranger
      .ensureConnected(b.peerId, { timeout: 15_000 })
      .catch((error: unknown) => error)) as ContactUnreachableError
    expect(failure).toMatchObject({
      name: 'ContactUnreachableError',
      peerId: b.peerId,
      contactName: undefined,
      attempts: [],
      timedOut: false,
      routing: { tried: true, found: false, addresses: [] }
    })
    expect(failure.routing.error).toBe('routing: not found')
    expect(failure.message).toContain('routing findpeer: not found (routing: not found)')
    expect(await isConnected(clientA, b.peerId)).toBe(false)

    const result = await store.ensureConnected('bob')
    expect(result).toMatchObject({ peerId: b.peerId, via: 'remembered-address', address: first.address })
    expect(result.attempts).toEqual([
      { address: first.address, outcome: 'connected', ms: expect.any(Number) }
    ])
    expect(await isConnected(clientA, b.peerId)).toBe(true)
    expect(await isConnected(clientB, a.peerId)).toBe(true)

    const contact = await store.getContact('bob')
    expect(contact?.addresses).toHaveLength(1)
    expect(contact?.addresses[0]).toMatchObject({ multiaddr: first.address, successes: 1 })
    expect(contact?.addresses[0]?.lastSuccess?.getTime()).toBeGreaterThanOrEqual(Date.now() - 10_000)

    // Connected now: the next call returns at once and counts nothing.
    const again = await store.ensureConnected(b.peerId)
    expect(again.via).toBe('already-connected')
    expect((await store.getContact('bob'))?.addresses[0]?.successes).toBe(1)
  })

  it('connects past a wrong remembered address and credits only the one that worked', async () => {
    const wrong = `/ip4/127.0.0.1/tcp/${await closedPort()}`
    const right = (b.swarmAddrs[0] ?? '').replace(`/p2p/${b.peerId}`, '')
    // One dial at a time, so the order is known: the wrong address ranks first (most recently seen).
    await using store = await openContacts({
      path: path.join(dir.path, 'contacts.json'),
      ipfs: ipfsA,
      dialConcurrency: 1
    })
    await store.addContact(b.peerId, 'bob', { addresses: [right] })
    // A sleep that is needed: addresses rank by when they were last seen (ms); the next one is later.
    await new Promise(resolve => setTimeout(resolve, 5))
    await store.rememberAddresses('bob', [wrong])
    expect((await store.getContact('bob'))?.addresses.map(address => address.multiaddr)).toEqual([
      wrong,
      right
    ])

    // These nodes never met: Kubo knows no other address of bob, so the wrong dial really fails.
    const result = await store.ensureConnected('bob')
    expect(result).toMatchObject({ via: 'remembered-address', address: right })
    expect(result.attempts.map(attempt => [attempt.address, attempt.outcome])).toEqual([
      [wrong, 'failed'],
      [right, 'connected']
    ])
    expect(result.attempts[0]?.error).toMatch(/connection refused/)

    const counts = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        ((await store.getContact('bob'))?.addresses ?? []).map(address => [
          address.multiaddr,
          address.successes
        ])
      )
    expect(await counts()).toEqual({ [right]: 1, [wrong]: 0 })

    // Again, after a disconnect, with all addresses dialled at once: Kubo now knows bob's real
    // address and may report the wrong dial as connected; the count follows `swarm peers`.
    await forgetEachOther()
    await using parallel = await openContacts({ path: store.path, ipfs: ipfsA })
    const second = await parallel.ensureConnected('bob')
    expect(second).toMatchObject({ via: 'remembered-address', address: right })
    expect(await counts()).toEqual({ [right]: 2, [wrong]: 0 })
    // The one that worked now ranks first.
    expect((await store.getContact('bob'))?.addresses.map(address => address.multiaddr)).toEqual([
      right,
      wrong
    ])
  })

  it('lets the first address that connects win and cancels the dials still hanging', async () => {
    await using silent = await silentServer()
    const right = (b.swarmAddrs[0] ?? '').replace(`/p2p/${b.peerId}`, '')
    await using store = await openContacts({
      path: path.join(dir.path, 'contacts.json'),
      ipfs: ipfsA,
      dialTimeout: 20_000
    })
    await store.addContact(b.peerId, 'bob', { addresses: [right] })
    // A sleep that is needed: addresses rank by when they were last seen (ms); the next one is later.
    await new Promise(resolve => setTimeout(resolve, 5))
    // Ranked first, dialled together with the right one: it would hang for the whole dial timeout.
    await store.rememberAddresses('bob', [silent.address])
    const result = await store.ensureConnected('bob')
    expect(result).toMatchObject({ via: 'remembered-address', address: right })
    // Far below the 20 s dial timeout: nothing waited for the hanging dial.
    expect(result.ms).toBeLessThan(10_000)
    expect(result.attempts.map(attempt => attempt.address).sort()).toEqual([right, silent.address].sort())
    // Cancelled by us, or reported connected by Kubo (it joins dials to one peer); never counted.
    expect(['cancelled', 'connected']).toContain(
      result.attempts.find(attempt => attempt.address === silent.address)?.outcome
    )
    const counts = Object.fromEntries(
      ((await store.getContact('bob'))?.addresses ?? []).map(address => [
        address.multiaddr,
        address.successes
      ])
    )
    expect(counts).toEqual({ [right]: 1, [silent.address]: 0 })
    // Kubo gave up the hanging dial (when it had started one: it merges dials to one peer) once connected.
    await eventually(async () => silent.open() === 0, 'the hanging dial was closed')
  })

  it('fails with every attempt and the routing result listed, or with timedOut', async () => {
    await using silent = await silentServer()
    const refused = `/ip4/127.0.0.1/tcp/${await closedPort()}`
    await using store = await openContacts({
      path: path.join(dir.path, 'contacts.json'),
      ipfs: ipfsA,
      dialTimeout: 500
    })
    await store.addContact(b.peerId, 'bob', { addresses: [refused, silent.address] })
    const error = (await store
      .ensureConnected('bob')
      .catch((caught: unknown) => caught)) as ContactUnreachableError
    expect(error).toMatchObject({ name: 'ContactUnreachableError', contactName: 'bob', timedOut: false })
    expect(error.attempts.map(attempt => [attempt.address, attempt.outcome]).sort()).toEqual(
      [
        [refused, 'failed'],
        [silent.address, 'failed']
      ].sort()
    )
    // Kubo joins concurrent dials to one peer, so the refused address may also wait for the silent
    // one: its reason varies (refused, deadline); the silent one always runs out of time.
    for (const attempt of error.attempts) expect(attempt.error).toMatch(/^\S.*\S$/)
    expect(error.attempts.find(attempt => attempt.address === silent.address)?.error).toMatch(
      /no answer within 500 ms|deadline exceeded/
    )
    expect(error.message.split('\n')).toHaveLength(5)
    expect(error.routing).toMatchObject({ tried: true, found: false, error: 'routing: not found' })
    expect(error.message).toContain(`Could not connect to bob (${b.peerId})`)
    expect(error.message).toContain(`${refused}: failed (`)

    const timedOut = (await store
      .ensureConnected('bob', { timeout: 300 })
      .catch((caught: unknown) => caught)) as ContactUnreachableError
    expect(timedOut).toMatchObject({ name: 'ContactUnreachableError', timedOut: true })
    expect(timedOut.message).toContain('within 300 ms')
    expect(timedOut.routing.tried).toBe(false)
  })

  it('keeps a monitored contact connected', async () => {
    await using store = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: ipfsA })
    await store.addContact(b.peerId, 'bob', { addresses: b.swarmAddrs })
    const connects: ContactConnectDetail[] = []
    await using monitor = monitorContacts(store, ['bob'], { interval: 200 })
    monitor.addEventListener('contact-connect', event => connects.push(event.detail))
    await eventually(async () => connects.length >= 1, 'the monitor connected bob')
    expect(connects[0]?.result.via).toBe('remembered-address')

    const count = connects.length
    const successes = async (): Promise<number> =>
      (await store.getContact('bob'))?.addresses[0]?.successes ?? 0
    expect(await successes()).toBe(1)

    // Only a dial counts a success (an existing connection does not): a second one proves a reconnect.
    await clientA.swarm.disconnect(`/p2p/${b.peerId}`)
    await eventually(async () => (await successes()) >= 2, 'the monitor reconnected bob')
    expect(await isConnected(clientA, b.peerId)).toBe(true)
    await eventually(async () => connects.length > count, 'the monitor reported it')
    expect(connects.slice(count).map(detail => detail.result.via)).toContain('remembered-address')
    await monitor.stop()
    const contact = await store.getContact('bob')
    expect(contact?.addresses[0]?.lastSeen.getTime()).toBeGreaterThanOrEqual(Date.now() - 5_000)
  })

  it('still reconnects with a @tk/rpc client given as the deprecated client option', async () => {
    await using store = await openContacts({ path: path.join(dir.path, 'contacts.json'), client: clientA })
    const right = (b.swarmAddrs[0] ?? '').replace(`/p2p/${b.peerId}`, '')
    await store.addContact(b.peerId, 'bob', { addresses: [right] })
    const result = await store.ensureConnected('bob')
    expect(result).toMatchObject({ peerId: b.peerId, via: 'remembered-address', address: right })
    expect(await isConnected(clientA, b.peerId)).toBe(true)
    expect((await store.getContact('bob'))?.addresses[0]).toMatchObject({ multiaddr: right, successes: 1 })
    // Routing through the client too: Kubo's own words for a peer nobody knows.
    const stranger = randomPeerId()
    const failure = (await store
      .ensureConnected(stranger, { timeout: 15_000 })
      .catch((error: unknown) => error)) as ContactUnreachableError
    expect(failure).toMatchObject({
      name: 'ContactUnreachableError',
      peerId: stranger,
      attempts: [],
      routing: { tried: true, found: false, addresses: [], error: 'routing: not found' }
    })
    // The store did not make the client, so closing the store leaves it working.
    await store.close()
    expect((await clientA.swarm.peers()).map(peer => peer.peerId)).toContain(b.peerId)
  })

  it('refuses both ipfs and client, and an ipfs without the peers calls contacts need', async () => {
    const file = path.join(dir.path, 'contacts.json')
    await expect(openContacts({ path: file, ipfs: ipfsA, client: clientA })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'client'
    })
    const flat = { peers: { connect: ipfsA.peers.connect, find: ipfsA.peers.find } }
    await expect(openContacts({ path: file, ipfs: flat as unknown as typeof ipfsA })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'ipfs'
    })
  })

  it('names an unknown contact, and honours an aborted signal', async () => {
    await using store = await openContacts({ path: path.join(dir.path, 'contacts.json'), ipfs: ipfsA })
    await expect(store.ensureConnected('nobody')).rejects.toMatchObject({
      name: 'ContactNotFoundError',
      query: 'nobody'
    })
    await store.addContact(b.peerId, 'bob', { addresses: b.swarmAddrs })
    const reason = new Error('user cancelled')
    await expect(store.ensureConnected('bob', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(await isConnected(clientA, b.peerId)).toBe(false)
  })
})
