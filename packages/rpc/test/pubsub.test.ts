import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { createKuboCluster, type KuboCluster } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKuboClient, type KuboClient, type PubsubMessage } from '../src/index.js'
import { waitFor } from './helpers.js'

let cluster: KuboCluster
let a: KuboClient
let b: KuboClient

beforeAll(async () => {
  cluster = await createKuboCluster(2)
  a = createKuboClient(cluster.nodes[0]?.apiUrl)
  b = createKuboClient(cluster.nodes[1]?.apiUrl)
})

afterAll(async () => {
  await a?.close()
  await b?.close()
  await cluster?.stop()
})

/**
 * Subscribes on B and resolves once a message from A has reached B on the topic. A lists B among the
 * topic's peers before its mesh carries messages to B (about a gossipsub heartbeat later, notes/kubo.md),
 * so A publishes a probe until one arrives, instead of waiting a fixed time. Probes are left out of the
 * messages returned.
 */
async function subscribe(topic: string, controller: AbortController): Promise<PubsubMessage[]> {
  const received: PubsubMessage[] = []
  const probe = `probe ${randomBytes(8).toString('hex')}`
  let probed = false
  void (async () => {
    for await (const message of b.pubsub.sub(topic, { signal: controller.signal })) {
      if (new TextDecoder().decode(message.data) === probe) probed = true
      else received.push(message)
    }
  })().catch(() => {
    // Ends with AbortError when the test aborts the subscription.
  })
  const bId = cluster.nodes[1]?.peerId ?? ''
  await expect
    .poll(async () => await a.pubsub.peers(topic), { timeout: 10_000, interval: 100 })
    .toContain(bId)
  const deadline = Date.now() + 15_000
  while (!probed) {
    if (Date.now() > deadline)
      throw new Error(`no probe from A reached B on ${JSON.stringify(topic)} within 15 s`)
    await a.pubsub.pub(topic, probe)
    await waitFor(() => probed, 500)
  }
  return received
}

/** Subscribes `client` to the topic and resolves once its daemon lists the subscription. */
async function listen(
  client: KuboClient,
  topic: string,
  controller: AbortController
): Promise<PubsubMessage[]> {
  const received: PubsubMessage[] = []
  void (async () => {
    for await (const message of client.pubsub.sub(topic, { signal: controller.signal }))
      received.push(message)
  })().catch(() => {
    // Ends with AbortError when the test aborts the subscription.
  })
  await expect.poll(async () => await client.pubsub.ls(), { timeout: 10_000, interval: 100 }).toContain(topic)
  return received
}

function texts(messages: readonly PubsubMessage[]): string[] {
  return messages.map(message => new TextDecoder().decode(message.data))
}

/** A message's seqno as a number: Kubo's are 8-byte big-endian counters per sender. */
function seqnoOf(message: PubsubMessage): bigint {
  return BigInt(`0x${Buffer.from(message.seqno).toString('hex')}`)
}

describe('pubsub', () => {
  it('delivers text, binary and empty payloads from A to B, with sender and topic', async () => {
    const topic = `chat/${randomBytes(4).toString('hex')} with spaces & ünïcode`
    const controller = new AbortController()
    const received = await subscribe(topic, controller)
    expect(await b.pubsub.ls()).toContain(topic)

    const binary = randomBytes(1000)
    await a.pubsub.pub(topic, 'hello')
    await a.pubsub.pub(topic, binary)
    await a.pubsub.pub(topic, new Uint8Array(0))
    expect(await waitFor(() => received.length === 3, 10_000)).toBe(true)

    expect(new TextDecoder().decode(received[0]?.data)).toBe('hello')
    expect(Buffer.from(received[1]?.data ?? []).equals(binary)).toBe(true)
    expect(received[2]?.data).toEqual(new Uint8Array(0))
    for (const message of received) {
      expect(message.from).toBe(cluster.nodes[0]?.peerId)
      expect(message.topicIDs).toEqual([topic])
      expect(message.seqno.byteLength).toBeGreaterThan(0)
    }
    controller.abort()
    await expect.poll(async () => await b.pubsub.ls(), { timeout: 5_000 }).not.toContain(topic)
  })

  it('concurrent publishes through one client leave the daemon in call order; the receiver gets them in order', async () => {
    const topic = `burst-${randomBytes(4).toString('hex')}`
    const controller = new AbortController()
    const received = await subscribe(topic, controller)
    // A's own subscription sees each message A's daemon publishes, once, in the order it published them.
    const published = await listen(a, topic, controller)
    const count = 30
    const expected = Array.from({ length: count }, (_, index) => `message ${index}`)
    await Promise.all(expected.map(text => a.pubsub.pub(topic, text)))

    // What our client controls: every call published, one at a time, in call order, seqnos rising.
    expect(await waitFor(() => published.length === count, 15_000)).toBe(true)
    expect(texts(published)).toEqual(expected)
    const seqnos = published.map(seqnoOf)
    expect(seqnos.every((seqno, index) => index === 0 || seqno > (seqnos[index - 1] as bigint))).toBe(true)

    // What B's Kubo does with them: it validates incoming messages in parallel and ignores one that is
    // validated after a later one from the same sender (ipfs/kubo#11304), so on a loaded machine it
    // may drop some of an in-order burst. The last one has the highest seqno and is never dropped so.
    expect(await waitFor(() => texts(received).includes(`message ${count - 1}`), 15_000)).toBe(true)
    const arrived = texts(received)
    // An in-order subsequence of what A published, without duplicates, the same messages (seqnos).
    expect(arrived).toEqual(expected.filter(text => arrived.includes(text)))
    expect(new Set(arrived).size).toBe(arrived.length)
    expect(received.map(seqnoOf)).toEqual(arrived.map(text => seqnos[expected.indexOf(text)]))
    controller.abort()
  })

  it('publishes sent one at a time, each after the last arrived, all arrive in order', async () => {
    const topic = `paced-${randomBytes(4).toString('hex')}`
    const controller = new AbortController()
    const received = await subscribe(topic, controller)
    const expected = Array.from({ length: 10 }, (_, index) => `message ${index}`)
    for (const [index, text] of expected.entries()) {
      await a.pubsub.pub(topic, text)
      expect(await waitFor(() => received.length === index + 1, 10_000)).toBe(true)
    }
    expect(texts(received)).toEqual(expected)
    controller.abort()
  })

  it('an aborted subscription ends its iterator with AbortError', async () => {
    const controller = new AbortController()
    const iteration = (async () => {
      for await (const _ of b.pubsub.sub('quiet-topic', { signal: controller.signal })) {
        // No message is ever published here.
      }
    })()
    await expect.poll(async () => await b.pubsub.ls(), { timeout: 5_000 }).toContain('quiet-topic')
    controller.abort()
    const error = await iteration.catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('AbortError')
  })

  it('closing the client ends its open subscriptions instead of waiting for them', async () => {
    const own = createKuboClient(cluster.nodes[1]?.apiUrl)
    const iteration = (async () => {
      for await (const _ of own.pubsub.sub('closing-topic')) {
        // Nothing is published.
      }
    })().catch((caught: unknown) => caught)
    await expect.poll(async () => await b.pubsub.ls(), { timeout: 5_000 }).toContain('closing-topic')
    const started = Date.now()
    await own.close()
    const error = await iteration
    expect((error as Error).name).toBe('AbortError')
    expect(Date.now() - started).toBeLessThan(2_000)
    await expect.poll(async () => await b.pubsub.ls(), { timeout: 5_000 }).not.toContain('closing-topic')
  })

  it('subscribe resolves once Kubo lists the subscription, with a stream of its messages', async () => {
    const topic = `subscribe-${randomBytes(4).toString('hex')}`
    const controller = new AbortController()
    const stream = await b.pubsub.subscribe(topic, { signal: controller.signal })
    // Listed the moment it resolves: no polling.
    expect(await b.pubsub.ls()).toContain(topic)
    await b.pubsub.pub(topic, 'own message')
    const first = await stream.next()
    expect(new TextDecoder().decode(first.value?.data)).toBe('own message')
    expect(first.value?.from).toBe(cluster.nodes[1]?.peerId)
    await stream.return()
    await expect.poll(async () => await b.pubsub.ls(), { timeout: 5_000 }).not.toContain(topic)
  })

  it('subscribe with a short timeout against a server that never answers settles in time', async () => {
    // Accepts connections and reads requests, but never answers: a hung daemon.
    const sockets = new Set<net.Socket>()
    const server = net.createServer(socket => {
      sockets.add(socket)
      socket.resume()
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    const hung = createKuboClient(`http://127.0.0.1:${port}`)
    try {
      const started = Date.now()
      const error = await hung.pubsub
        .subscribe('never-live', { timeout: 300 })
        .catch((caught: unknown) => caught)
      expect(error).toMatchObject({ name: 'RpcTimeoutError', command: 'pubsub/sub', timeout: 300 })
      expect(Date.now() - started).toBeGreaterThanOrEqual(290)
      expect(Date.now() - started).toBeLessThan(2_300)
    } finally {
      await hung.close()
      for (const socket of sockets) socket.destroy()
      server.close()
    }
  })

  it('rejects an empty topic before any request', async () => {
    const error = await a.pubsub.pub('', 'x').catch((caught: unknown) => caught)
    expect((error as { argument: string }).argument).toBe('topic')
    await b.pubsub.reset()
  })
})
