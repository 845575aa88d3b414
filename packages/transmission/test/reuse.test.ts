import { randomBytes } from 'node:crypto'
import type { PeerStream, StreamHandler, StreamServer, StreamSource } from '@tk/interface'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createStreamPair, createTransmission, StreamClosedError, type Transmission } from '../src/index.js'
import { DEFAULT_MAX_STREAMS_PER_LISTENER, REUSE_IDLE } from '../src/stream-pool.js'
import { type Pair, sha256, startPair } from './helpers.js'

// Unit tests of stream reuse over in-memory streams (no Kubo): the stream source below is a stub
// network that counts streams and can break the listener's end of one on purpose; all above it
// is the real code.

const ALICE = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const BOB = '12D3KooWGDMwwqrpcYKpKCgxuKT2NfqPqa94QnkbW6M7Ge5udoDw'
const ACCEPT = 0x02
const DONE = 0x06

function memoryNetwork() {
  const served = new Map<string, Map<string, StreamHandler>>()
  const state = {
    opened: 0,
    /** Streams not yet ended on the listener's side. */
    live: 0,
    /** The most streams live at once. */
    peak: 0,
    /** What the listener's ends wrote, write by write. */
    listenerWrites: [] as Uint8Array[],
    /** The listener's end aborts instead of reading the next bytes that come. */
    breakOnRead: false,
    /** The listener's end aborts instead of writing the next `done`. */
    breakOnDone: false
  }
  /** The listener's end, with the sabotage switches. */
  const listenerEnd = (stream: PeerStream): PeerStream => {
    state.live++
    state.peak = Math.max(state.peak, state.live)
    let counted = true
    const ended = (): void => {
      if (counted) state.live--
      counted = false
    }
    return {
      remotePeerId: stream.remotePeerId,
      async *[Symbol.asyncIterator]() {
        try {
          for await (const chunk of stream) {
            if (state.breakOnRead) {
              state.breakOnRead = false
              stream.abort(new Error('broken on purpose'))
              return
            }
            yield chunk
          }
        } finally {
          ended()
        }
      },
      write: async (data, options) => {
        // A write that ends with `done` (alone, or behind the `accept` of small data).
        const done = data.subarray(data.byteLength - 5)
        if (
          state.breakOnDone &&
          done.byteLength === 5 &&
          done[0] === DONE &&
          done.every((byte, index) => index === 0 || byte === 0)
        ) {
          state.breakOnDone = false
          stream.abort(new Error('broken on purpose'))
          throw new Error('broken on purpose')
        }
        state.listenerWrites.push(Uint8Array.from(data))
        await stream.write(data, options)
      },
      closeWrite: async options => await stream.closeWrite(options),
      close: async options => await stream.close(options),
      abort: error => stream.abort(error),
      [Symbol.asyncDispose]: async () => await stream.close()
    }
  }
  const source = (peerId: string): StreamSource => ({
    peerId: async () => peerId,
    serve: async (protocol, handler): Promise<StreamServer> => {
      const mine = served.get(peerId) ?? new Map<string, StreamHandler>()
      served.set(peerId, mine)
      mine.set(protocol, handler)
      const close = async (): Promise<void> => void mine.delete(protocol)
      return { protocol, close, [Symbol.asyncDispose]: close }
    },
    open: async (remote, protocol) => {
      const handler = served.get(remote)?.get(protocol)
      if (handler == null) throw new Error(`${remote} does not serve ${protocol}`)
      state.opened++
      const [mine, theirs] = createStreamPair(peerId, remote)
      void handler(listenerEnd(theirs))
      return mine
    }
  })
  return { source, state }
}

describe('stream reuse (in memory, no Kubo)', () => {
  const open: Transmission[] = []
  const pair = (maxStreamsPerListener?: number) => {
    const network = memoryNetwork()
    const alice = createTransmission({ streams: network.source(ALICE), maxStreamsPerListener })
    const bob = createTransmission({ streams: network.source(BOB) })
    open.push(alice, bob)
    return { network, alice, bob }
  }
  afterEach(async () => {
    for (const transmission of open.splice(0)) await transmission.close()
  })

  it('20 data transmissions in a row share one stream, each delivered once and in order', async () => {
    const { network, alice, bob } = pair()
    const received: string[] = []
    await bob.listenForTransmissions('inbox', data => void received.push(sha256(data)))
    // Around the eager limit (64 KiB) and the chunk frame (256 KiB): both paths on a reused stream.
    const payloads = Array.from({ length: 20 }, (_, index) =>
      randomBytes([0, 1, 64 * 1024, 64 * 1024 + 1, 256 * 1024 + 1][index % 5] as number)
    )
    for (const payload of payloads) await alice.transmitData(payload, BOB, 'inbox')
    await expect.poll(() => received.length).toBe(20)
    expect(received).toEqual(payloads.map(sha256))
    expect(network.state.opened).toBe(1)
  })

  it('compatible: a listener that does not offer reuse, and a sender that does not ask, get a stream per transmission', async () => {
    const { network, alice, bob } = pair()
    const received: string[] = []
    await bob.listenForTransmissions('old', data => void received.push(sha256(data)), { reuse: false })
    const payloads = Array.from({ length: 5 }, () => randomBytes(100))
    for (const payload of payloads) await alice.transmitData(payload, BOB, 'old')
    expect(network.state.opened).toBe(5)
    await bob.listenForTransmissions('new', data => void received.push(sha256(data)))
    for (const payload of payloads) await alice.transmitData(payload, BOB, 'new', { reuse: false })
    expect(network.state.opened).toBe(10)
    await expect.poll(() => received).toEqual([...payloads, ...payloads].map(sha256))
  })

  it('an idle stream is closed after the idle time, on both sides', async () => {
    const { network, alice, bob } = pair()
    await bob.listenForTransmissions('idle', () => {})
    const started = Date.now()
    await alice.transmitData('one', BOB, 'idle')
    expect(network.state.live).toBe(1)
    await expect.poll(() => network.state.live, { timeout: REUSE_IDLE + 3_000 }).toBe(0)
    // Closed by the sender's idle timer, not at once after the transmission.
    expect(Date.now() - started).toBeGreaterThanOrEqual(REUSE_IDLE - 100)
    // The next transmission opens a fresh stream and is delivered.
    await alice.transmitData('two', BOB, 'idle')
    expect(network.state.opened).toBe(2)
  })

  it('a reused stream that turns out broken is retried once on a fresh one: delivered once, nothing lost', async () => {
    const { network, alice, bob } = pair()
    const received: string[] = []
    await bob.listenForTransmissions('broken', data => void received.push(new TextDecoder().decode(data)), {
      onError: () => {}
    })
    await alice.transmitData('first', BOB, 'broken')
    network.state.breakOnRead = true
    await alice.transmitData('second', BOB, 'broken')
    expect(network.state.breakOnRead).toBe(false)
    expect(network.state.opened).toBe(2)
    await expect.poll(() => received).toEqual(['first', 'second'])
  })

  it('a message whose `done` was lost with its stream is not delivered twice by the retry', async () => {
    const { network, alice, bob } = pair()
    const received: string[] = []
    const errors: string[] = []
    await bob.listenForTransmissions(
      'lost-done',
      data => void received.push(new TextDecoder().decode(data)),
      {
        onError: error => void errors.push(error.message)
      }
    )
    await alice.transmitData('first', BOB, 'lost-done')
    network.state.breakOnDone = true
    await alice.transmitData('second', BOB, 'lost-done')
    expect(network.state.breakOnDone).toBe(false)
    expect(network.state.opened).toBe(2)
    await expect.poll(() => errors.length).toBe(1)
    expect(received).toEqual(['first', 'second'])
  })

  it('16 transmissions at once to one listener use at most 8 streams (what it serves of one peer at once); each arrives once, byte-exact', async () => {
    const { network, alice, bob } = pair()
    const received: string[] = []
    await bob.listenForTransmissions('burst', data => void received.push(sha256(data)))
    // Small (eager) and larger than a chunk frame: both paths wait their turn alike.
    const payloads = Array.from({ length: 16 }, (_, index) =>
      randomBytes(index % 2 === 0 ? 1024 : 256 * 1024 + 1)
    )
    await Promise.all(payloads.map(payload => alice.transmitData(payload, BOB, 'burst')))
    await expect.poll(() => received.length).toBe(16)
    expect([...received].sort()).toEqual(payloads.map(sha256).sort())
    expect(network.state.opened).toBeLessThanOrEqual(DEFAULT_MAX_STREAMS_PER_LISTENER)
    expect(network.state.peak).toBeLessThanOrEqual(DEFAULT_MAX_STREAMS_PER_LISTENER)
    expect(DEFAULT_MAX_STREAMS_PER_LISTENER).toBe(8)
  })

  it('transmissions waiting for a turn go in the order they were made, on the stream that comes back', async () => {
    const { network, alice, bob } = pair(1)
    const received: string[] = []
    await bob.listenForTransmissions('order', data => void received.push(new TextDecoder().decode(data)))
    const messages = Array.from({ length: 6 }, (_, index) => `message ${index}`)
    await Promise.all(messages.map(message => alice.transmitData(message, BOB, 'order')))
    await expect.poll(() => received.length).toBe(6)
    expect(received).toEqual(messages)
    expect(network.state.opened).toBe(1)
  })

  it('a transmission waiting for a turn settles within its timeout, opens nothing, and leaves the turn to the next', async () => {
    const { network, alice } = pair(1)
    // A listener that takes the stream and never answers: the first transmission keeps the turn.
    await network.source(BOB).serve('/x/mute', () => {})
    const holder = new AbortController()
    const holding = alice
      .transmitData('first', BOB, 'mute', { signal: holder.signal })
      .catch((caught: unknown) => caught)
    await expect.poll(() => network.state.opened).toBe(1)
    const started = Date.now()
    const error = await alice
      .transmitData('second', BOB, 'mute', { timeout: 300 })
      .catch((caught: unknown) => caught)
    const took = Date.now() - started
    expect((error as Error).name).toBe('TimeoutError')
    expect(took).toBeGreaterThanOrEqual(200)
    expect(took).toBeLessThan(300 + 2_000)
    expect(network.state.opened).toBe(1)
    holder.abort(new Error('given up'))
    expect(((await holding) as Error).message).toBe('given up')
    // Neither the timed-out waiter nor the aborted holder keeps the turn: the next one opens a stream.
    const third = alice
      .transmitData('third', BOB, 'mute', { timeout: 5_000 })
      .catch((caught: unknown) => caught)
    await expect.poll(() => network.state.opened).toBe(2)
    await alice.close()
    expect(await third).toBeInstanceOf(Error)
  })

  it('maxStreamsPerListener must be a positive whole number', () => {
    const network = memoryNetwork()
    for (const value of [0, -1, 1.5, Number.NaN]) {
      expect(() =>
        createTransmission({ streams: network.source(ALICE), maxStreamsPerListener: value })
      ).toThrow(/maxStreamsPerListener/)
    }
  })

  it('small data that came whole with its open is answered with accept and done in one write; larger data is accepted first', async () => {
    const { network, alice, bob } = pair()
    const received: string[] = []
    await bob.listenForTransmissions('answers', data => void received.push(sha256(data)))
    const small = randomBytes(1024)
    await alice.transmitData(small, BOB, 'answers', { reuse: false })
    // One write: the accept frame, then the done frame (type 0x06, empty) right behind it.
    expect(network.state.listenerWrites.length).toBe(1)
    const [both] = network.state.listenerWrites as [Uint8Array]
    const acceptLength = new DataView(both.buffer, both.byteOffset).getUint32(1)
    expect(both[0]).toBe(ACCEPT)
    expect([...both.subarray(5 + acceptLength)]).toEqual([DONE, 0, 0, 0, 0])
    // Beyond the eager limit the sender waits for accept before sending: accept goes out alone.
    network.state.listenerWrites.length = 0
    const large = randomBytes(64 * 1024 + 1)
    await alice.transmitData(large, BOB, 'answers', { reuse: false })
    expect(network.state.listenerWrites.map(write => write[0])).toEqual([ACCEPT, DONE])
    await expect.poll(() => received).toEqual([sha256(small), sha256(large)])
  })

  it('only once: a fresh stream that breaks is not retried, and the error says so', async () => {
    const { network, alice, bob } = pair()
    const received: string[] = []
    await bob.listenForTransmissions('once', data => void received.push(new TextDecoder().decode(data)), {
      onError: () => {}
    })
    network.state.breakOnRead = true
    const error = await alice.transmitData('lost', BOB, 'once').catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(StreamClosedError)
    expect(network.state.opened).toBe(1)
    await alice.transmitData('after', BOB, 'once')
    await expect.poll(() => received).toEqual(['after'])
  })
})

describe('stream reuse through Kubo (real daemons)', () => {
  let pair: Pair

  beforeAll(async () => {
    pair = await startPair()
  })

  afterAll(async () => {
    await pair?.stop()
  })

  it('20 messages in a row are one libp2p stream in Kubo, which closes when idle; every message arrives once', async () => {
    const { a, b } = pair
    const received: string[] = []
    await using sender = createTransmission({ streams: a.ipfs.streams })
    await using receiver = createTransmission({ streams: b.ipfs.streams })
    await receiver.listenForTransmissions('reused', data => void received.push(sha256(data)))
    const payloads = Array.from({ length: 20 }, () => randomBytes(1024))
    for (const payload of payloads) await sender.transmitData(payload, b.node.peerId, 'reused')
    const streamsTo = async (): Promise<number> =>
      (await a.ipfs.client.p2p.stream.ls()).filter(stream => stream.protocol === '/x/reused').length
    expect(await streamsTo()).toBe(1)
    await expect.poll(() => received).toEqual(payloads.map(sha256))
    await expect.poll(streamsTo, { timeout: REUSE_IDLE + 5_000, interval: 250 }).toBe(0)
  })
})
