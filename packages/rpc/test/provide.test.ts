import { randomBytes } from 'node:crypto'
import { createKuboCluster, type KuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { createProvideCommands, type ProvideStat, type SweepProvideStat } from '../src/commands/provide.js'
import { createRootCommands } from '../src/commands/root.js'
import { createRoutingCommands } from '../src/commands/routing.js'
import { all, commandsOn, eventually, useTwoAndLonely } from './helpers.js'

/** Kubo's default Provide.DHT.Interval, 22h, in ms. */
const REPROVIDE_INTERVAL = 22 * 3600_000

const commandsFor = (node: KuboNode | undefined) =>
  commandsOn(node, {
    provide: createProvideCommands,
    root: createRootCommands,
    routing: createRoutingCommands
  })

function sweep(stat: ProvideStat): SweepProvideStat {
  if (stat.type !== 'sweep') throw new Error(`expected the sweep provider, got ${stat.type}`)
  return stat
}

/** Provide.DHT.MaxWorkers for the stalled provider (Kubo's default, pinned): provides in flight at once. */
const STALLED_WORKERS = 16

/**
 * Two nodes with the legacy provider, connected (each in the other's LAN routing table), the second
 * then frozen with SIGSTOP: the first one's provides hang on it. Disposing thaws and stops both.
 */
async function stalledLegacyProvider() {
  const pair = await createKuboCluster(2, {
    config: { Provide: { DHT: { SweepEnabled: false, MaxWorkers: STALLED_WORKERS } } }
  })
  const [provider, peer] = pair.nodes as [KuboNode, KuboNode]
  const commands = commandsFor(provider)
  process.kill(peer.pid, 'SIGSTOP')
  return {
    commands,
    [Symbol.asyncDispose]: async () => {
      process.kill(peer.pid, 'SIGCONT')
      await commands.invoker.transport.close()
      await pair.stop()
    }
  }
}

// Only pinned content is announced by itself, so unpinned content is announced only by `provide once`.
// C is connected to nobody, with the legacy provider.
const nodes = useTwoAndLonely(commandsFor, {
  cluster: { config: { Provide: { Strategy: 'pinned' } } },
  lonely: { config: { Provide: { DHT: { SweepEnabled: false } } } }
})

describe('provide once', () => {
  it('queues each CID once, walks the DAG with recursive, and B then finds A as a provider', async () => {
    const { a, b } = nodes
    const results = await all(
      a.root.addAll(
        [
          { path: 'shared' },
          { path: 'shared/one.bin', content: randomBytes(2000) },
          { path: 'shared/two.bin', content: randomBytes(2000) }
        ],
        { pin: false, cidVersion: 1 }
      )
    )
    const root = results.at(-1)?.cid ?? ''
    const files = results.filter(result => result.name !== 'shared').map(result => result.cid)
    const peerA = a.node.peerId

    // Right after start the LAN provider is not online yet, and what it is given then is not announced.
    const lan = await eventually(
      async () => sweep(await a.provide.stat({ lan: true })),
      stat => stat.connectivity.status === 'online',
      20_000
    )
    expect(lan.connectivity.status).toBe('online')

    expect(await all(a.provide.once(root))).toEqual([root])
    expect(await all(a.provide.once([root, root]))).toEqual([root])
    const walked = await all(a.provide.once(root, { recursive: true }))
    expect(new Set(walked)).toEqual(new Set([root, ...files]))

    // The sweep provider announces in the background: poll until B's lookup sees A.
    const file = files[0] ?? ''
    const providers = await eventually(
      async () =>
        (await all(b.routing.findprovs(file, { numProviders: 1, timeout: 10_000 })))
          .filter(event => event.type === 'provider')
          .map(event => event.responses[0]?.id),
      found => found.includes(peerA),
      20_000
    )
    expect(providers).toEqual([peerA])
  })

  it('a node without peers refuses', async () => {
    const { c } = nodes
    const added = await c.root.add('lonely content')
    await expect(all(c.provide.once(added.cid))).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'cannot provide: no connected peers'
    })
  })
})

describe('provide stat', () => {
  it('the sweep provider: WAN by default (offline on loopback), LAN online and counting what it provided', async () => {
    const { a } = nodes
    const wan = sweep(await a.provide.stat())
    expect(wan.connectivity.status).toBe('offline')
    expect(wan.connectivity.since).toBeUndefined()
    expect(wan.timing.reprovidesInterval).toBe(REPROVIDE_INTERVAL)
    expect(wan.network.replicationFactor).toBe(20)
    expect(wan.workers.max).toBeGreaterThan(0)
    expect(wan.timing.uptime).toBeGreaterThan(0)

    const lan = sweep(await a.provide.stat({ lan: true }))
    expect(lan.connectivity.status).toBe('online')
    expect(lan.connectivity.since?.getTime()).toBeLessThanOrEqual(Date.now())
    expect(lan.timing.cycleStart).toBeInstanceOf(Date)

    const added = await a.root.add(randomBytes(500), { pin: false, cidVersion: 1 })
    expect(await all(a.provide.once(added.cid))).toEqual([added.cid])
    const after = await eventually(
      async () => sweep(await a.provide.stat({ lan: true })),
      stat => stat.operations.past.keysProvided > lan.operations.past.keysProvided,
      20_000
    )
    expect(after.operations.past.keysProvided).toBeGreaterThan(lan.operations.past.keysProvided)
    expect(after.network.peers).toBeGreaterThanOrEqual(1)
  })

  it("the section flags only shape Kubo's text: the result has the same fields", async () => {
    const { a } = nodes
    const plain = sweep(await a.provide.stat({ lan: true }))
    const flagged = sweep(
      await a.provide.stat({
        lan: true,
        all: true,
        compact: true,
        connectivity: true,
        network: true,
        schedule: true,
        timings: true,
        workers: true,
        operations: true,
        queues: true
      })
    )
    expect(Object.keys(flagged).sort()).toEqual(Object.keys(plain).sort())
    expect(flagged.network.replicationFactor).toBe(plain.network.replicationFactor)
    expect(flagged.workers).toEqual(plain.workers)
  })

  it('the legacy provider has its own shape, and no LAN stats', async () => {
    const { c } = nodes
    const stat = await c.provide.stat()
    expect(stat).toMatchObject({
      type: 'legacy',
      reprovideInterval: REPROVIDE_INTERVAL,
      fullRoutingTable: false
    })
    const lan = await c.provide.stat({ lan: true }).catch((error: unknown) => error as Error)
    expect(lan).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'LAN stats only available for Sweep provider with Dual DHT'
    })
  })
})

describe('provide clear', () => {
  it('empties the queue of a legacy provider whose only peer stopped answering', async () => {
    // A peerless provider fails each CID at once and keeps its queue near empty while `add` fills it,
    // so clear would race it. With its only DHT peer frozen (SIGSTOP), every provide waits on the
    // peer's answer (the DHT's 10 s read timeout), at most Provide.DHT.MaxWorkers at a time: the
    // ~1000 blocks of one add stay queued until clear removes them.
    await using stalled = await stalledLegacyProvider()
    await stalled.commands.root.add(randomBytes(1024 * 1024), { chunker: 'size-1024', pin: false })
    const removed = await stalled.commands.provide.clear()
    // 1024 leaves + the root, less the few dozen the workers and the queue's hand-off had taken (~60
    // seen): most of them, where a provider that could work its queue off leaves ~0.
    expect(removed).toBeGreaterThan(512)
    expect(removed).toBeLessThanOrEqual(1025)
    expect(await stalled.commands.provide.clear()).toBe(0)
  })
})

describe('provide arguments', () => {
  it('rejects bad input before any request', () => {
    const { a } = nodes
    expect(() => a.provide.once([])).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'cids' })
    )
    expect(() => a.provide.once('nope')).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'cids' })
    )
  })
})
