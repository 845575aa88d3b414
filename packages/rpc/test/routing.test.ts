import { randomBytes } from 'node:crypto'
import type { KuboNode } from '@tk/testkit'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { createKeyCommands } from '../src/commands/key.js'
import { createNameCommands } from '../src/commands/name.js'
import { createProvideCommands } from '../src/commands/provide.js'
import { createRootCommands } from '../src/commands/root.js'
import { createRoutingCommands, type RoutingEvent } from '../src/commands/routing.js'
import { all, collect, commandsOn, useTwoAndLonely } from './helpers.js'

const commandsFor = (node: KuboNode | undefined) =>
  commandsOn(node, {
    routing: createRoutingCommands,
    root: createRootCommands,
    key: createKeyCommands,
    name: createNameCommands,
    provide: createProvideCommands
  })

const withoutPeerId = (address: string): string => address.replace(/\/p2p\/[^/]+$/, '')
const providers = (events: RoutingEvent[]): string[] =>
  events
    .filter(event => event.type === 'provider')
    .flatMap(event => event.responses.map(response => response.id))

// Only pinned content is announced by itself, so an unpinned add is findable only after `provide`.
// C is connected to nobody, with the legacy provider (the only one `routing reprovide` works with).
const nodes = useTwoAndLonely(commandsFor, {
  cluster: { config: { Provide: { Strategy: 'pinned' } } },
  lonely: { config: { Provide: { DHT: { SweepEnabled: false } } } }
})

describe('routing on two nodes', () => {
  it("B finds A's addresses; a node cannot look itself up", async () => {
    const { a, b } = nodes
    const events = await all(b.routing.findpeer(a.node.peerId, { verbose: true }))
    const found = events.find(event => event.type === 'final-peer')
    expect(found?.typeNumber).toBe(2)
    expect(found?.responses[0]?.id).toBe(a.node.peerId)
    expect(found?.responses[0]?.addresses).toEqual(
      expect.arrayContaining(a.node.swarmAddrs.map(withoutPeerId))
    )

    const self = await all(a.routing.findpeer(a.node.peerId)).catch((error: unknown) => error as Error)
    expect(self).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'finding your own node in the DHT is currently not supported'
    })
  })

  it('unpinned content on A is found by B only after A provides it', async () => {
    const { a, b } = nodes
    const added = await a.root.add(randomBytes(1024), { pin: false, cidVersion: 1 })
    expect(providers(await all(b.routing.findprovs(added.cid, { timeout: 30_000 })))).not.toContain(
      a.node.peerId
    )

    await a.routing.provide(added.cid)
    const events = await all(b.routing.findprovs(added.cid, { numProviders: 1, timeout: 30_000 }))
    expect(providers(events)).toEqual([a.node.peerId])
    const provider = events.find(event => event.type === 'provider')
    expect(provider?.typeNumber).toBe(4)
    expect(provider?.responses[0]?.addresses).toEqual(
      expect.arrayContaining(a.node.swarmAddrs.map(withoutPeerId))
    )
  })

  it('provide refuses a block the node does not have', async () => {
    const { a, b } = nodes
    const elsewhere = await b.root.add(randomBytes(64), { cidVersion: 1 })
    const refused = await a.routing
      .provide([elsewhere.cid], { recursive: true })
      .catch((error: unknown) => error as Error)
    expect(refused).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: `block ${elsewhere.cid} not found locally, cannot provide`
    })
  })

  it('put of an IPNS record signed elsewhere reaches A through B; get returns the same bytes', async () => {
    const { a, b, c } = nodes
    // The record is made on the lonely node, so A and B can only learn it from `routing put`.
    const generated = await c.key.gen('elsewhere')
    const value = `/ipfs/${(await c.root.add('routed', { cidVersion: 1 })).cid}`
    await c.name.publish(value, { key: 'elsewhere' })
    const record = await collect(c.name.get(generated.id))
    expect(Buffer.from(await c.routing.get(`/ipns/${generated.id}`)).equals(Buffer.from(record))).toBe(true)

    const owner = await b.routing.put(`/ipns/${generated.id}`, record)
    // The owner comes back as a base58 peer id: the same multihash as the base36 name.
    expect(base58btc.baseDecode(owner)).toEqual(CID.parse(generated.id, base36).multihash.bytes)

    expect(Buffer.from(await b.routing.get(`/ipns/${generated.id}`)).equals(Buffer.from(record))).toBe(true)
    expect(
      Buffer.from(await a.routing.get(`/ipns/${generated.id}`, { timeout: 30_000 })).equals(
        Buffer.from(record)
      )
    ).toBe(true)
    expect(await a.name.resolve(generated.id)).toBe(value)
  })

  it("get of a key nobody has fails with Kubo's error", async () => {
    const { b, c } = nodes
    const unknown = await createKeyCommands(c.invoker).gen('never-published')
    const missing = await b.routing
      .get(`/ipns/${unknown.id}`, { timeout: 30_000 })
      .catch((error: unknown) => error as Error)
    expect(missing).toMatchObject({ name: 'KuboRpcError', kuboMessage: 'routing: not found' })
  })
})

describe('routing reprovide', () => {
  it('with the default sweep provider, Kubo refuses', async () => {
    const { a } = nodes
    const refused = await a.routing.reprovide().catch((error: unknown) => error as Error)
    expect(refused).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        "manual reprovide is not available with the sweep provider; set Provide.DHT.SweepEnabled=false to use the legacy provider, or run 'ipfs provide stat --all' to monitor the sweep schedule"
    })
  })

  it('with the legacy provider, it runs a cycle that provide stat counts', async () => {
    const { c } = nodes
    const before = await c.provide.stat()
    if (before.type !== 'legacy') throw new Error(`expected the legacy provider, got ${before.type}`)
    await c.routing.reprovide()
    const after = await c.provide.stat()
    if (after.type !== 'legacy') throw new Error(`expected the legacy provider, got ${after.type}`)
    // Kubo counts CIDs, not cycles: the cycle announced every block of the node's repo.
    expect(after.lastReprovideBatchSize).toBeGreaterThan(0)
    expect(after.totalReprovides).toBe(before.totalReprovides + after.lastReprovideBatchSize)
    expect(after.lastRun?.getTime()).toBeGreaterThan(Date.now() - 60_000)
  })
})

describe('routing arguments', () => {
  it('rejects bad input before any request', async () => {
    const { a } = nodes
    expect(() => a.routing.findpeer('not-a-peer')).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'peerId' })
    )
    expect(() => a.routing.findprovs('not-a-cid')).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'cid' })
    )
    await expect(a.routing.get('ipns')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'key'
    })
    await expect(a.routing.put('/ipns/x', 5 as unknown as Uint8Array)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'value'
    })
    await expect(a.routing.provide([])).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cids'
    })
  })
})
