import { createKuboCluster, createKuboNode, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKeyCommands } from '../src/commands/key.js'
import { createNameCommands } from '../src/commands/name.js'
import { createRootCommands } from '../src/commands/root.js'
import { all, collect, commandsOn } from './helpers.js'

const commandsFor = (node: KuboNode | undefined) =>
  commandsOn(node, { name: createNameCommands, key: createKeyCommands, root: createRootCommands })

let cluster: KuboCluster
let a: ReturnType<typeof commandsFor>
let b: ReturnType<typeof commandsFor>
/** A node connected to nobody, with IPNS over pubsub on: what it knows of a name, it was told with `put`. */
let lonely: KuboNode
let c: ReturnType<typeof commandsFor>

let ipnsName = ''
let first = ''
let second = ''
let firstRecord: Uint8Array = new Uint8Array()
let secondRecord: Uint8Array = new Uint8Array()

beforeAll(async () => {
  ;[cluster, lonely] = await Promise.all([
    createKuboCluster(2),
    createKuboNode({ config: { Ipns: { UsePubsub: true } } })
  ])
  const [nodeA, nodeB] = cluster.nodes
  if (nodeA == null || nodeB == null) throw new Error('the cluster has no nodes')
  a = commandsFor(nodeA)
  b = commandsFor(nodeB)
  c = commandsFor(lonely)
  first = `/ipfs/${(await a.root.add('first value', { cidVersion: 1 })).cid}`
  second = `/ipfs/${(await a.root.add('second value', { cidVersion: 1 })).cid}`
})

afterAll(async () => {
  await Promise.all([a, b, c].map(async commands => await commands?.invoker.transport.close()))
  await Promise.all([cluster?.stop(), lonely?.stop()])
})

describe('name across two nodes', () => {
  it('publishes with a generated key; A resolves it, plain and streamed', async () => {
    const generated = await a.key.gen('site')
    const published = await a.name.publish(first, { key: 'site' })
    expect(published).toEqual({ name: generated.id, value: first })
    ipnsName = published.name

    expect(await a.name.resolve(ipnsName)).toBe(first)
    expect(await a.name.resolve(`/ipns/${ipnsName}`, { recursive: false })).toBe(first)
    expect(await all(a.name.resolve(ipnsName, { stream: true }))).toContain(first)
  })

  it("without a name, publish and resolve use the node's own key", async () => {
    const self = (await a.key.ls()).find(entry => entry.name === 'self')
    // Kubo 0.43 no longer publishes at init, so the node's own name resolves only after this.
    expect(await a.name.publish(second)).toEqual({ name: self?.id, value: second })
    expect(await a.name.resolve()).toBe(second)
    expect(await all(a.name.resolve({ stream: true }))).toEqual([second])
  })

  it("B resolves A's name over the loopback DHT (LAN DHT; no IPNS pubsub on these nodes)", async () => {
    expect(await b.name.resolve(ipnsName, { nocache: true, dhtTimeout: 10_000, timeout: 30_000 })).toBe(first)
  })

  it("a new publish is seen by B with nocache; name.get gives each version's record", async () => {
    firstRecord = await collect(a.name.get(ipnsName))
    const published = await a.name.publish(second, { key: 'site', lifetime: '2h', ttl: 60_000 })
    expect(published.value).toBe(second)
    secondRecord = await collect(a.name.get(`/ipns/${ipnsName}`))
    expect(Buffer.from(secondRecord).equals(Buffer.from(firstRecord))).toBe(false)
    expect(await b.name.resolve(ipnsName, { nocache: true, timeout: 30_000 })).toBe(second)
    // B gets the same record bytes from the DHT as A holds.
    expect(
      Buffer.from(await collect(b.name.get(ipnsName, { timeout: 30_000 }))).equals(Buffer.from(secondRecord))
    ).toBe(true)
  })

  it('inspect shows the value, sequence, validity and TTL, and verifies the signature', async () => {
    const inspected = await a.name.inspect(secondRecord, { verify: ipnsName })
    expect(inspected.entry).toMatchObject({ value: second, sequence: 1, validityType: 0, ttl: 60_000 })
    const expiresIn = (inspected.entry.validity?.getTime() ?? 0) - Date.now()
    expect(expiresIn).toBeGreaterThan(100 * 60_000)
    expect(expiresIn).toBeLessThanOrEqual(2 * 3600_000)
    expect(inspected.signatureType).toBe('V1+V2')
    expect(inspected.protobufSize).toBe(secondRecord.byteLength)
    expect(inspected.hexDump).toContain('/ipfs/')
    expect(inspected.validation).toEqual({ valid: true, reason: '', name: ipnsName })

    const older = await a.name.inspect(firstRecord, { dump: false })
    expect(older.entry).toMatchObject({ value: first, sequence: 0 })
    expect(older.hexDump).toBe('')
    expect(older.validation).toBeUndefined()

    // Checked against another name (A's own peer id), the signature does not match.
    const wrongName = await a.name.inspect(secondRecord, { verify: cluster.nodes[0]?.peerId ?? '' })
    expect(wrongName.validation).toMatchObject({ valid: false, reason: 'signature verification failed' })
  })

  it('put carries records to a node that knows nothing else, and refuses an older one', async () => {
    // The lonely node has no peers: it can resolve the name only from what `put` gave it.
    expect(await c.name.put(ipnsName, firstRecord)).toEqual({ name: ipnsName, value: first })
    expect(await c.name.resolve(ipnsName, { nocache: true })).toBe(first)
    expect(await c.name.put(`/ipns/${ipnsName}`, secondRecord, { allowOffline: true })).toEqual({
      name: ipnsName,
      value: second
    })
    expect(await c.name.resolve(ipnsName, { nocache: true })).toBe(second)
    expect(Buffer.from(await collect(c.name.get(ipnsName))).equals(Buffer.from(secondRecord))).toBe(true)

    const older = await c.name.put(ipnsName, firstRecord).catch((error: unknown) => error as Error)
    expect(older).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        "existing IPNS record has sequence 1 >= new record sequence 0, use 'ipfs name put --force' to skip this check"
    })
    const wrongName = await c.name.put(lonely.peerId, secondRecord).catch((error: unknown) => error as Error)
    expect(wrongName).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'record validation failed: signature verification failed'
    })
  })

  it('publish options: v1compat off gives a V2-only record; a sequence number is kept', async () => {
    await a.key.gen('v2only')
    const published = await a.name.publish(first, { key: 'v2only', v1compat: false, sequence: 41n })
    expect(published.name).toMatch(/^k51/)
    const inspected = await a.name.inspect(await collect(a.name.get(published.name)))
    expect(inspected.signatureType).toBe('V2')
    expect(inspected.entry.sequence).toBe(41)

    const both = await a.name
      .publish(first, { allowOffline: true, allowDelegated: true })
      .catch((error: unknown) => error as Error)
    expect(both).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'cannot use both --allow-offline and --allow-delegated flags'
    })
  })
})

describe('name pubsub', () => {
  it('is off on the cluster nodes, whose subs Kubo refuses', async () => {
    expect(await a.name.pubsub.state()).toBe(false)
    const refused = await a.name.pubsub.subs().catch((error: unknown) => error as Error)
    expect(refused).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'IPNS pubsub subsystem is not enabled',
      status: 400
    })
  })

  it('with Ipns.UsePubsub, the node follows names it publishes and resolves; cancel ends that', async () => {
    expect(await c.name.pubsub.state()).toBe(true)
    const own = await c.key.gen('followed')
    // `resolve: false`: the content lives on A, which this node cannot reach.
    await c.name.publish(first, { key: 'followed', resolve: false })
    expect(await c.name.resolve(own.id, { nocache: true })).toBe(first)
    expect(await c.name.pubsub.subs()).toContain(`/ipns/${own.id}`)

    expect(await c.name.pubsub.cancel(own.id)).toBe(true)
    expect(await c.name.pubsub.subs()).not.toContain(`/ipns/${own.id}`)
    expect(await c.name.pubsub.cancel(`/ipns/${own.id}`)).toBe(false)
  })
})

describe('name arguments', () => {
  it('rejects bad input before any request', async () => {
    await expect(a.name.publish('not a path')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'path'
    })
    await expect(a.name.publish(first, { ttl: -1 })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'ttl'
    })
    expect(() => a.name.get('nope')).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'name' })
    )
    await expect(a.name.put(ipnsName, new Uint8Array())).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'record'
    })
    await expect(a.name.inspect(firstRecord, { verify: 'x' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'verify'
    })
    expect(() => a.name.resolve('', { stream: true })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'name' })
    )
    await expect(a.name.resolve(' ')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'name'
    })
  })
})
