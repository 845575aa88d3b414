import { createKuboCluster, createKuboNode, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDhtCommands } from '../src/commands/dht.js'
import { createRootCommands } from '../src/commands/root.js'
import type { RoutingEvent } from '../src/commands/routing.js'
import { httpTransport } from '../src/http-transport.js'
import { Invoker } from '../src/invoker.js'
import { all } from './helpers.js'

const REMOVED = "removed, use 'ipfs routing' instead"

let cluster: KuboCluster
let lonely: KuboNode
const invokers: Invoker[] = []
let dhtA: ReturnType<typeof createDhtCommands>
let dhtB: ReturnType<typeof createDhtCommands>
let dhtLonely: ReturnType<typeof createDhtCommands>
let rootA: ReturnType<typeof createRootCommands>

function invokerFor(node: KuboNode | undefined): Invoker {
  if (node == null) throw new Error('no node')
  const invoker = new Invoker(httpTransport({ apiUrl: node.apiUrl }))
  invokers.push(invoker)
  return invoker
}

beforeAll(async () => {
  ;[cluster, lonely] = await Promise.all([createKuboCluster(2), createKuboNode()])
  const invokerA = invokerFor(cluster.nodes[0])
  dhtA = createDhtCommands(invokerA)
  rootA = createRootCommands(invokerA)
  dhtB = createDhtCommands(invokerFor(cluster.nodes[1]))
  dhtLonely = createDhtCommands(invokerFor(lonely))
})

afterAll(async () => {
  await Promise.all(invokers.map(async invoker => await invoker.transport.close()))
  await Promise.all([cluster?.stop(), lonely?.stop()])
})

describe('dht query (deprecated, still served)', () => {
  it("B finds A as the closest peer to A's id, with the query's progress events", async () => {
    const peerA = cluster.nodes[0]?.peerId ?? ''
    const events = await all(dhtB.query(peerA, { verbose: true }))
    const closest = events.filter(event => event.type === 'final-peer').map(event => event.id)
    expect(closest).toEqual([peerA])
    expect(events.find(event => event.type === 'sending-query')).toMatchObject({ typeNumber: 0, id: peerA })
    const response = events.find(event => event.type === 'peer-response')
    expect(response?.id).toBe(peerA)
  })

  it('on a node with no peers, the query reports its error as an event, then fails', async () => {
    const seen: RoutingEvent[] = []
    const failure = await (async () => {
      for await (const event of dhtLonely.query(cluster.nodes[0]?.peerId ?? '')) seen.push(event)
    })().catch((error: unknown) => error as Error)
    expect(seen).toEqual([
      { type: 'query-error', typeNumber: 3, responses: [], extra: 'failed to find any peer in table' }
    ])
    expect(failure).toMatchObject({
      name: 'KuboRpcError',
      status: 200,
      kuboMessage: 'failed to find any peer in table'
    })
  })
})

describe('dht commands Kubo removed (use routing/*)', () => {
  it('findprovs, findpeer, get, put and provide all answer "removed"', async () => {
    const peerB = cluster.nodes[1]?.peerId ?? ''
    const added = await rootA.add('dht content', { cidVersion: 1 })
    const attempts: Array<() => Promise<unknown>> = [
      async () => await all(dhtA.findprovs(added.cid)),
      async () => await all(dhtA.findpeer(peerB)),
      async () => await dhtA.get(`/ipns/${peerB}`),
      async () => await dhtA.put(`/ipns/${peerB}`, new Uint8Array([1, 2, 3])),
      async () => await dhtA.provide(added.cid)
    ]
    for (const attempt of attempts) {
      await expect(attempt()).rejects.toMatchObject({
        name: 'KuboRpcError',
        status: 500,
        kuboMessage: REMOVED
      })
    }
  })
})

describe('dht arguments', () => {
  it('rejects bad input before any request', async () => {
    expect(() => dhtA.query('12D3-nope')).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'peerId' })
    )
    expect(() => dhtA.findprovs('nope')).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'cid' })
    )
    await expect(dhtA.get('no-slash')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'key'
    })
    await expect(dhtA.provide('nope')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cids'
    })
  })
})
