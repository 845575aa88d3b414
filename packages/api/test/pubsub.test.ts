import { randomBytes } from 'node:crypto'
import { DaemonUnreachableError, InvalidArgumentError } from '@tk/rpc'
import { connect, createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { PubsubDisabledError } from '../src/errors.js'
import { createIpfs } from '../src/ipfs.js'
import {
  PubsubHandlerError,
  type PubsubMessage,
  type Subscription,
  SubscriptionInterruptedError,
  SubscriptionOverflowError
} from '../src/pubsub.js'
import { openApi, useApis } from './content-helpers.js'

const text = (message: PubsubMessage | undefined): string => new TextDecoder().decode(message?.data)
const uniqueTopic = (name: string): string => `${name}/${randomBytes(4).toString('hex')}`

/**
 * Collects what a subscription's handler gets and lets a test wait for a payload. Waiting for each
 * message before publishing the next keeps one message in flight: Kubo (0.40+) ignores a message
 * whose seqno is not above the last one it validated from that peer, and validates the messages
 * of a burst concurrently, so a burst may lose a few in the receiving daemon whatever the subscriber does.
 */
function createInbox() {
  const received: PubsubMessage[] = []
  const waiters = new Map<string, () => void>()
  return {
    received,
    handler: (message: PubsubMessage): void => {
      received.push(message)
      const payload = text(message)
      waiters.get(payload)?.()
      waiters.delete(payload)
    },
    /** Resolves when `payload` arrives (or has already); rejects after `ms`. */
    async waitFor(payload: string, ms = 10_000): Promise<void> {
      if (received.some(message => text(message) === payload)) return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`"${payload}" did not arrive within ${ms} ms`)), ms)
        waiters.set(payload, () => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }
}

describe.each([['http'], ['cli']] as const)('pubsub (%s backend)', backend => {
  const suite = useApis(2, backend)

  /** Until A knows that B subscribed, A has nobody to send to. */
  async function untilASeesB(topic: string): Promise<void> {
    const [, b] = suite.nodes
    const [fromA] = suite.apis
    await expect
      .poll(async () => await fromA.pubsubPeers(topic), { timeout: 15_000, interval: 50 })
      .toContain(b.peerId)
  }

  it('is live when it resolves, and delivers text, binary and empty payloads with sender, topic and seqno', async () => {
    const [a] = suite.nodes
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('chat with spaces & ünïcode')
    const inbox = createInbox()
    await using subscription = await onB.pubsubSubscribe(topic, inbox.handler)
    expect(subscription.topic).toBe(topic)
    expect(await onB.pubsubTopics()).toContain(topic)
    await untilASeesB(topic)

    const binary = new Uint8Array(Array.from({ length: 256 }, (_, index) => index))
    // One at a time, each after the last arrived (see createInbox).
    for (const [index, payload] of ['hello', binary, new Uint8Array(0)].entries()) {
      await fromA.pubsubPublish(topic, payload)
      await expect.poll(() => inbox.received.length, { timeout: 10_000 }).toBe(index + 1)
    }

    const [hello, bytes, empty] = inbox.received
    expect(text(hello)).toBe('hello')
    expect(bytes?.data).toEqual(binary)
    expect(empty?.data).toEqual(new Uint8Array(0))
    for (const message of inbox.received) {
      expect(message.from).toBe(a.peerId)
      expect(message.topicIDs).toEqual([topic])
      expect(message.seqno.byteLength).toBe(8)
    }
    // Per-peer seqnos only go up.
    const seqnos = inbox.received.map(message => Buffer.from(message.seqno).readBigUInt64BE())
    expect([...seqnos].sort((x, y) => (x < y ? -1 : 1))).toEqual(seqnos)
  })

  it('is live when it resolves: a message B publishes the moment after arrives, every time', async () => {
    const [, b] = suite.nodes
    const [, onB] = suite.apis
    // Kubo hands a node's own publications to its local subscriptions registered by then, so
    // this needs no mesh: what is sent right away is only received if the subscription was live.
    for (let round = 0; round < 5; round++) {
      const topic = uniqueTopic(`live-${round}`)
      const inbox = createInbox()
      await using _subscription = await onB.pubsubSubscribe(topic, inbox.handler)
      await onB.pubsubPublish(topic, `right away ${round}`)
      await inbox.waitFor(`right away ${round}`, 5_000)
      expect(inbox.received.map(message => message.from)).toEqual([b.peerId])
    }
  })

  it('pubsubTopics and pubsubPeers read back the subscription; close() ends it on the daemon', async () => {
    const [, b] = suite.nodes
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('topics')
    const subscription = await onB.pubsubSubscribe(topic)
    expect(await onB.pubsubTopics()).toContain(topic)
    await untilASeesB(topic)
    expect(await fromA.pubsubPeers()).toContain(b.peerId)

    await subscription.close()
    expect(subscription.closed).toBe(true)
    await expect.poll(async () => await onB.pubsubTopics(), { timeout: 10_000 }).not.toContain(topic)
    await expect.poll(async () => await fromA.pubsubPeers(topic), { timeout: 15_000 }).not.toContain(b.peerId)
    await subscription.close()
  })

  // The CLI backend starts one `ipfs` process per publish (~50-100 ms each here), so it sends fewer.
  const count = backend === 'http' ? 1_000 : 100

  it(`delivers ${count} messages from A to B with zero loss, each once`, async () => {
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('many')
    const inbox = createInbox()
    await using _subscription = await onB.pubsubSubscribe(topic, inbox.handler)
    await untilASeesB(topic)

    const sent = Array.from(
      { length: count },
      (_, index) => `message ${index} ${randomBytes(8).toString('hex')}`
    )
    for (const payload of sent) {
      await fromA.pubsubPublish(topic, payload)
      await inbox.waitFor(payload)
    }
    const payloads = inbox.received.map(text)
    expect(payloads).toHaveLength(count)
    expect(new Set(payloads)).toEqual(new Set(sent))
  })

  it('a subscription nobody reads for a while keeps every message for its iterator', async () => {
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('unread')
    const unread = await onB.pubsubSubscribe(topic)
    // A second subscription on B paces the publisher (see createInbox).
    const inbox = createInbox()
    await using _pacer = await onB.pubsubSubscribe(topic, inbox.handler)
    await untilASeesB(topic)
    const sent = Array.from({ length: backend === 'http' ? 300 : 30 }, (_, index) => `unread ${index}`)
    for (const payload of sent) {
      await fromA.pubsubPublish(topic, payload)
      await inbox.waitFor(payload)
    }

    const seen: string[] = []
    for await (const message of unread) {
      seen.push(text(message))
      if (seen.length === sent.length) break
    }
    expect(seen).toEqual(sent)
  })

  // A bound of about ten 1000-byte messages (each also counts PUBSUB_MESSAGE_OVERHEAD bytes).
  const bound = 10 * 1000
  const flood = backend === 'http' ? 60 : 30

  /** Publishes `count` 1000-byte messages from A, each only after `pacer` has it (see createInbox). */
  async function publishPaced(topic: string, pacer: ReturnType<typeof createInbox>, count: number) {
    const [fromA] = suite.apis
    const sent: string[] = []
    for (let index = 0; index < count; index++) {
      const payload = `flood ${String(index).padStart(3, '0')} `.padEnd(1000, '.')
      sent.push(payload)
      await fromA.pubsubPublish(topic, payload)
      await pacer.waitFor(payload)
    }
    return sent
  }

  it('a stalled handler holds at most maxBufferedBytes; the rest are dropped and reported with exact counts', async () => {
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('stalled-handler')
    const errors: Error[] = []
    const delivered: string[] = []
    let release: () => void = () => {}
    const gate = new Promise<void>(resolve => {
      release = resolve
    })
    await using stalled = await onB.pubsubSubscribe(
      topic,
      async message => {
        await gate
        delivered.push(text(message))
      },
      { maxBufferedBytes: bound, onError: error => errors.push(error) }
    )
    const pacer = createInbox()
    await using _pacer = await onB.pubsubSubscribe(topic, pacer.handler)
    await untilASeesB(topic)

    const sent = await publishPaced(topic, pacer, flood)
    // Every message reached the stalled subscription: it holds some and dropped the others.
    await expect.poll(() => stalled.buffered.messages + stalled.dropped, { timeout: 10_000 }).toBe(flood)
    const kept = stalled.buffered.messages
    expect(kept).toBeGreaterThan(0)
    expect(kept).toBeLessThanOrEqual(bound / 1000)
    expect(stalled.buffered.bytes).toBeLessThanOrEqual(bound)
    expect(stalled.dropped).toBe(flood - kept)
    expect(delivered).toEqual([])

    // Once the handler moves, it gets exactly the first `kept` messages, in order; the next message
    // after the gap is delivered too, and the gap is reported once, with its size.
    release()
    await expect.poll(() => delivered.length, { timeout: 10_000 }).toBe(kept)
    await fromA.pubsubPublish(topic, 'after the flood')
    await pacer.waitFor('after the flood')
    await expect.poll(() => delivered.length, { timeout: 10_000 }).toBe(kept + 1)
    expect(delivered).toEqual([...sent.slice(0, kept), 'after the flood'])
    const overflows = errors.filter(error => error instanceof SubscriptionOverflowError)
    expect(overflows).toHaveLength(1)
    expect((overflows[0] as SubscriptionOverflowError).dropped).toBe(flood - kept)
    expect((overflows[0] as SubscriptionOverflowError).topic).toBe(topic)
    expect(errors).toEqual(overflows)
    expect(stalled.buffered).toEqual({ messages: 0, bytes: 0 })
  })

  it('an iterator that does not read holds at most maxBufferedBytes, then reads exactly the first ones in order', async () => {
    const [, onB] = suite.apis
    const topic = uniqueTopic('unread-bounded')
    const unread = await onB.pubsubSubscribe(topic, undefined, { maxBufferedBytes: bound })
    const pacer = createInbox()
    await using _pacer = await onB.pubsubSubscribe(topic, pacer.handler)
    await untilASeesB(topic)

    const sent = await publishPaced(topic, pacer, flood)
    await expect.poll(() => unread.buffered.messages + unread.dropped, { timeout: 10_000 }).toBe(flood)
    const kept = unread.buffered.messages
    expect(kept).toBeGreaterThan(0)
    expect(unread.buffered.bytes).toBeLessThanOrEqual(bound)
    expect(unread.dropped).toBe(flood - kept)

    const seen: string[] = []
    for await (const message of unread) {
      seen.push(text(message))
      if (seen.length === kept) break
    }
    expect(seen).toEqual(sent.slice(0, kept))
  })

  it('refuses a maxBufferedBytes that is not a positive whole number', async () => {
    const [, onB] = suite.apis
    for (const maxBufferedBytes of [0, -1, 1.5, Number.POSITIVE_INFINITY, Number.NaN]) {
      const error = await onB
        .pubsubSubscribe(uniqueTopic('bad-bound'), undefined, { maxBufferedBytes })
        .catch((caught: unknown) => caught)
      expect(error, String(maxBufferedBytes)).toBeInstanceOf(InvalidArgumentError)
      expect((error as InvalidArgumentError).argument).toBe('maxBufferedBytes')
    }
  })

  it('can be iterated; leaving the loop closes the subscription', async () => {
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('iterate')
    const subscription = await onB.pubsubSubscribe(topic)
    // A second subscription on B paces the publisher (see createInbox): a burst could lose one in
    // the receiving daemon, and this loop would then wait for ever (a CI run timed out at 120 s).
    const pacer = createInbox()
    await using pacing = await onB.pubsubSubscribe(topic, pacer.handler)
    await untilASeesB(topic)
    const sent = ['one', 'two', 'three']
    // Without a handler, messages wait for the iterator: these are published before it starts.
    for (const payload of sent) {
      await fromA.pubsubPublish(topic, payload)
      await pacer.waitFor(payload)
    }

    const seen: string[] = []
    for await (const message of subscription) {
      seen.push(text(message))
      if (seen.length === sent.length) break
    }
    expect(seen).toEqual(sent)
    expect(subscription.closed).toBe(true)
    // With the pacer closed too, B leaves the topic only if the loop's end closed the subscription.
    await pacing.close()
    await expect.poll(async () => await onB.pubsubTopics(), { timeout: 10_000 }).not.toContain(topic)
  })

  it('iteration ends when the subscription is closed, also for a next() already waiting', async () => {
    const [, onB] = suite.apis
    const subscription = await onB.pubsubSubscribe(uniqueTopic('quiet'))
    const iterator = subscription[Symbol.asyncIterator]()
    const pending = iterator.next()
    await subscription.close()
    expect(await pending).toEqual({ done: true, value: undefined })
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
  })

  it('the signal closes the subscription', async () => {
    const [, onB] = suite.apis
    const topic = uniqueTopic('signal')
    const controller = new AbortController()
    const subscription = await onB.pubsubSubscribe(topic, undefined, { signal: controller.signal })
    expect(await onB.pubsubTopics()).toContain(topic)
    controller.abort()
    await expect.poll(() => subscription.closed).toBe(true)
    await expect.poll(async () => await onB.pubsubTopics(), { timeout: 10_000 }).not.toContain(topic)
  })

  it('a handler that throws is reported through onError and the subscription goes on', async () => {
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('throwing')
    const errors: Error[] = []
    const inbox = createInbox()
    const failure = new Error('handler failed on purpose')
    await using _subscription = await onB.pubsubSubscribe(
      topic,
      async message => {
        inbox.handler(message)
        if (text(message) === 'bad') throw failure
      },
      { onError: error => errors.push(error) }
    )
    await untilASeesB(topic)
    await fromA.pubsubPublish(topic, 'bad')
    await inbox.waitFor('bad')
    await fromA.pubsubPublish(topic, 'good')
    await inbox.waitFor('good')

    await expect.poll(() => errors.length).toBe(1)
    const [error] = errors
    expect(error).toBeInstanceOf(PubsubHandlerError)
    expect(error?.cause).toBe(failure)
    expect(text((error as PubsubHandlerError).pubsubMessage)).toBe('bad')
    expect(inbox.received.map(text)).toEqual(['bad', 'good'])
  })

  it('closing the ipfs instance ends its subscriptions (no endless resubscribing)', async () => {
    const [, b] = suite.nodes
    const [, onB] = suite.apis
    const instance = openApi(b, backend)
    const topic = uniqueTopic('instance-close')
    const errors: Error[] = []
    const subscription = await instance.pubsubSubscribe(topic, undefined, {
      onError: error => errors.push(error)
    })
    const iteration = (async () => {
      for await (const _ of subscription) {
        // Nothing is published on this topic.
      }
      return 'ended'
    })()
    await instance.close()
    expect(await iteration).toBe('ended')
    expect(subscription.closed).toBe(true)
    expect(errors).toEqual([])
    await expect.poll(async () => await onB.pubsubTopics(), { timeout: 10_000 }).not.toContain(topic)
  })

  it('rejects at once, leaving nothing running, when no daemon answers', async () => {
    const [, b] = suite.nodes
    await using pubsub = createIpfs(
      backend === 'http'
        ? { backend, api: 'http://127.0.0.1:1' }
        : { backend, binary: b.binary, repoPath: b.repoPath, api: '/ip4/127.0.0.1/tcp/1' }
    )
    await expect(pubsub.pubsubSubscribe('nobody-home')).rejects.toBeInstanceOf(DaemonUnreachableError)
  })

  it('rejects bad input before any request, naming the argument', async () => {
    const [fromA, onB] = suite.apis
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['topic', () => onB.pubsubSubscribe('')],
      ['topic', () => onB.pubsubSubscribe(42 as unknown as string)],
      ['handler', () => onB.pubsubSubscribe('t', 'not a function' as unknown as () => void)],
      ['onError', () => onB.pubsubSubscribe('t', undefined, { onError: 'no' as unknown as () => void })],
      ['topic', () => fromA.pubsubPublish('', 'data')],
      ['data', () => fromA.pubsubPublish('t', 42 as unknown as string)],
      ['topic', () => fromA.pubsubPeers('')]
    ]
    for (const [argument, call] of cases) {
      const error = await call().catch((caught: unknown) => caught)
      expect(error, argument).toBeInstanceOf(InvalidArgumentError)
      expect((error as InvalidArgumentError).argument).toBe(argument)
    }
    expect(await onB.pubsubTopics()).not.toContain('t')
  })

  // Last: it restarts B.
  it('keeps receiving after its daemon restarts, as the same subscription', async () => {
    const [a, b] = suite.nodes
    const [fromA, onB] = suite.apis
    const topic = uniqueTopic('restart')
    const errors: Error[] = []
    const inbox = createInbox()
    const subscription: Subscription = await onB.pubsubSubscribe(topic, inbox.handler, {
      onError: error => errors.push(error)
    })
    try {
      await untilASeesB(topic)
      await fromA.pubsubPublish(topic, 'before')
      await inbox.waitFor('before')

      await b.restart()
      // The restarted daemon has the subscription again without being asked (live before A reconnects).
      await expect
        .poll(async () => await onB.pubsubTopics(), { timeout: 20_000, interval: 100 })
        .toContain(topic)
      expect(subscription.closed).toBe(false)
      // The lost stream and the failed attempts while B was down were reported: over HTTP a clean
      // end (SubscriptionInterruptedError) then DaemonUnreachableError; the CLI's `ipfs` reports "unexpected EOF".
      expect(errors.length).toBeGreaterThan(0)
      expect(errors.some(error => error instanceof PubsubHandlerError)).toBe(false)
      if (backend === 'http') {
        expect(
          errors.every(
            error => error instanceof SubscriptionInterruptedError || error instanceof DaemonUnreachableError
          ),
          errors.map(error => `${error.name}: ${error.message}`).join('\n')
        ).toBe(true)
      }

      await connect(a, b)
      await untilASeesB(topic)
      const after = Array.from({ length: 20 }, (_, index) => `after ${index}`)
      for (const payload of after) {
        await fromA.pubsubPublish(topic, payload)
        await inbox.waitFor(payload)
      }
      expect(inbox.received.map(text)).toEqual(['before', ...after])
    } finally {
      await subscription.close()
    }
  })
})

describe('pubsub turned off in Kubo', () => {
  it('says how to turn it on, instead of Kubo’s advice to use a deprecated flag', async () => {
    await using node = await createKuboNode({ config: { Pubsub: { Enabled: false } } })
    await using ipfs = createIpfs({ backend: 'http', api: node.apiUrl })
    const calls: Array<() => Promise<unknown>> = [
      () => ipfs.pubsubPublish('t', 'x'),
      () => ipfs.pubsubSubscribe('t'),
      () => ipfs.pubsubTopics()
    ]
    for (const call of calls) {
      const error = (await call().catch((caught: unknown) => caught)) as Error
      expect(error).toBeInstanceOf(PubsubDisabledError)
      expect(error.message).toContain('ipfs config --json Pubsub.Enabled true')
      expect((error.cause as Error).message).toMatch(/pubsub feature not enabled/)
    }
  })
})
