import net from 'node:net'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKuboClient, type P2pForegroundTunnel } from '../src/index.js'
import { openConnectionsTo } from './helpers.js'

/**
 * Long-lived requests (foreground tunnels, pubsub subscriptions, `log tail`) hold their HTTP
 * connection for as long as they live. Issue 13, defect 6: with ~40 of them every short call of the
 * same client waited on the bounded pool (`id` failed after 29 s). These tests hold far more
 * long-lived requests than the pool has connections and ask for short answers in between.
 */

let node: KuboNode
let target: string
let server: net.Server

beforeAll(async () => {
  server = net.createServer(socket => socket.destroy())
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  target = `/ip4/127.0.0.1/tcp/${(server.address() as net.AddressInfo).port}`
  node = await createKuboNode()
})

afterAll(async () => {
  await node?.stop()
  await new Promise<void>(resolve => server?.close(() => resolve()))
})

/** Resolves with `promise`, or rejects naming `what` when it takes longer than `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

const TUNNELS = 64
const SUBSCRIPTIONS = 8
const TAILS = 4

describe('long-lived requests and short calls', () => {
  it(`${TUNNELS} foreground tunnels, ${SUBSCRIPTIONS} subscriptions and ${TAILS} log tails leave short calls fast, and all close cleanly`, async () => {
    // The default pool (32 connections) is smaller than what is held open below.
    const client = createKuboClient(node.apiUrl)
    const stop = new AbortController()
    const tunnels: P2pForegroundTunnel[] = []
    const streams: Array<Promise<unknown>> = []
    try {
      const topics = Array.from({ length: SUBSCRIPTIONS }, (_, index) => `long-lived-${index}`)
      for (const topic of topics) {
        streams.push(
          (async () => {
            for await (const _ of client.pubsub.sub(topic, { signal: stop.signal })) {
              // Nothing is published; the subscription only holds its request open.
            }
          })().catch(() => {})
        )
      }
      for (let index = 0; index < TAILS; index++) {
        streams.push(
          (async () => {
            for await (const _ of client.log.tail({ signal: stop.signal })) {
              // Held open; entries are not the point.
            }
          })().catch(() => {})
        )
      }
      // The subscriptions above are requests in flight: wait until Kubo has taken in all eight.
      await expect
        .poll(async () => (await within(15_000, 'pubsub ls', client.pubsub.ls())).sort(), { timeout: 15_000 })
        .toEqual(topics.sort())

      const protocols = Array.from({ length: TUNNELS }, (_, index) => `/x/long-lived-${index}`)
      tunnels.push(
        ...(await within(
          30_000,
          `opening ${TUNNELS} foreground tunnels`,
          Promise.all(
            protocols.map(protocol =>
              client.p2p.listen(protocol, target, { foreground: true, timeout: 20_000 })
            )
          )
        ))
      )
      expect(tunnels.map(tunnel => tunnel.protocol)).toEqual(protocols)

      // Short calls answer promptly, with the right content, while all of that stays open.
      for (let round = 0; round < 5; round++) {
        const started = performance.now()
        const id = await within(5_000, 'id', client.id())
        const listed = await within(5_000, 'p2p ls', client.p2p.ls())
        const elapsed = performance.now() - started
        expect(id.id).toBe(node.peerId)
        expect(listed.map(listener => listener.protocol).sort()).toEqual([...protocols].sort())
        expect(elapsed).toBeLessThan(2_000)
      }
      // Every tunnel and subscription still lives: each one holds its own connection.
      expect((await client.pubsub.ls()).sort()).toEqual(topics.sort())
      expect(openConnectionsTo(Number(new URL(node.apiUrl).port))).toBeGreaterThanOrEqual(
        TUNNELS + SUBSCRIPTIONS + TAILS
      )

      await within(20_000, 'closing the tunnels', Promise.all(tunnels.map(tunnel => tunnel.close())))
      expect(await client.p2p.ls()).toEqual([])
      stop.abort()
      await within(10_000, 'ending the subscriptions', Promise.all(streams))
      await expect.poll(async () => await client.pubsub.ls(), { timeout: 10_000, interval: 100 }).toEqual([])
    } finally {
      stop.abort()
      await Promise.all(tunnels.map(tunnel => tunnel.close()))
      await within(10_000, 'closing the client', client.close())
    }
  }, 90_000)
})
