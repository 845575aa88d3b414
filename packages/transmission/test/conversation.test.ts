import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Conversation, listenForConversations, startConversation } from '../src/index.js'
import { nextValue, sha256File, usePair, useTemporaryDirectory } from './helpers.js'

const pair = usePair()
const tmp = useTemporaryDirectory('conversation')

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

describe('startConversation / listenForConversations', () => {
  it('several turns each way; closing tells the other side', async () => {
    const { a, b } = pair
    const joined = nextValue<Conversation>()
    const requests: Array<{ peerId: string; name: string }> = []
    await using _listener = await listenForConversations(
      'chat',
      async request => {
        requests.push({ peerId: request.peerId, name: request.name })
        joined.deliver(await request.join())
      },
      { ipfs: b.ipfs }
    )
    await using alice = await startConversation('lunch', b.node.peerId, 'chat', { ipfs: a.ipfs })
    const bob = await joined.promise
    expect(requests).toEqual([{ peerId: a.node.peerId, name: 'lunch' }])
    expect([alice.peerId, bob.peerId, bob.name]).toEqual([b.node.peerId, a.node.peerId, 'lunch'])

    for (let turn = 0; turn < 5; turn++) {
      await alice.say(`question ${turn}`)
      expect(text(await bob.listen({ timeout: 10_000 }))).toBe(`question ${turn}`)
      await bob.say(`answer ${turn}`)
      expect(text(await alice.listen({ timeout: 10_000 }))).toBe(`answer ${turn}`)
    }
    // Several messages in a row arrive in order through the async iterator.
    await Promise.all(['x', 'y', 'z'].map(async message => await alice.say(message)))
    const seen: string[] = []
    for await (const message of bob) {
      seen.push(text(message))
      if (seen.length === 3) break
    }
    expect(seen.sort()).toEqual(['x', 'y', 'z'])

    await alice.close('bye')
    expect(await bob.closed).toEqual({ by: 'peer', reason: 'bye' })
    expect(await alice.closed).toEqual({ by: 'us', reason: 'bye' })
    await expect(bob.say('too late')).rejects.toMatchObject({ name: 'StreamClosedError' })
    await expect(bob.listen()).rejects.toMatchObject({ name: 'StreamClosedError' })
  })

  it('a handler that does not join declines the conversation', async () => {
    const { a, b } = pair
    await using _listener = await listenForConversations('picky', request => request.ignore(), {
      ipfs: b.ipfs
    })
    await expect(startConversation('hello?', b.node.peerId, 'picky', { ipfs: a.ipfs })).rejects.toMatchObject(
      {
        name: 'TransmissionError',
        code: 'declined'
      }
    )
  })

  it('encrypts every message, and moves files both ways on the same stream', async () => {
    const { a, b } = pair
    const flip = (bytes: Uint8Array): Uint8Array => bytes.map(byte => byte ^ 0xa5)
    const bobDir = path.join(tmp.path, 'bob')
    const aliceDir = path.join(tmp.path, 'alice')
    await Promise.all([fs.mkdir(bobDir), fs.mkdir(aliceDir)])
    const joined = nextValue<Conversation>()
    await using _listener = await listenForConversations(
      'secure',
      async request =>
        joined.deliver(await request.join({ encrypt: flip, decrypt: flip, directory: bobDir })),
      { ipfs: b.ipfs }
    )
    await using alice = await startConversation('files', b.node.peerId, 'secure', {
      ipfs: a.ipfs,
      encrypt: flip,
      decrypt: flip,
      directory: aliceDir
    })
    await using bob = await joined.promise
    await alice.say('encrypted hello')
    expect(text(await bob.listen({ timeout: 10_000 }))).toBe('encrypted hello')

    const aliceFile = path.join(tmp.path, 'from-alice.bin')
    const bobFile = path.join(tmp.path, 'from-bob.bin')
    await fs.writeFile(aliceFile, randomBytes(3 * 1024 * 1024 + 1))
    await fs.writeFile(bobFile, randomBytes(700_000))
    await alice.transmitFile(aliceFile, { metadata: 'from alice' })
    const atBob = await bob.listenForFile({ timeout: 10_000 })
    expect(atBob).toMatchObject({ name: 'from-alice.bin', peerId: a.node.peerId, size: 3 * 1024 * 1024 + 1 })
    expect(path.dirname(atBob.path)).toBe(bobDir)
    expect(text(atBob.metadata)).toBe('from alice')
    expect(await sha256File(atBob.path)).toBe(await sha256File(aliceFile))

    await bob.transmitFile(bobFile)
    const atAlice = await alice.listenForFile({ timeout: 10_000 })
    expect(await sha256File(atAlice.path)).toBe(await sha256File(bobFile))
    expect(path.dirname(atAlice.path)).toBe(aliceDir)
    // Messages still flow after the files.
    await bob.say('got it')
    expect(text(await alice.listen({ timeout: 10_000 }))).toBe('got it')
  })

  it('listen() times out when the peer says nothing', async () => {
    const { a, b } = pair
    const joined = nextValue<Conversation>()
    await using _listener = await listenForConversations(
      'quiet',
      async request => joined.deliver(await request.join()),
      {
        ipfs: b.ipfs
      }
    )
    await using alice = await startConversation('silence', b.node.peerId, 'quiet', { ipfs: a.ipfs })
    await using _bob = await joined.promise
    const started = Date.now()
    await expect(alice.listen({ timeout: 300 })).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('closing the listener ends its conversations, and p2p ls is empty afterwards', async () => {
    const { a, b } = pair
    const joined = nextValue<Conversation>()
    const listener = await listenForConversations(
      'ending',
      async request => joined.deliver(await request.join()),
      {
        ipfs: b.ipfs
      }
    )
    const alice = await startConversation('short', b.node.peerId, 'ending', { ipfs: a.ipfs })
    await joined.promise
    await listener.close()
    expect((await alice.closed).by).toMatch(/peer|error/)
    await alice.close()
    await expect.poll(async () => (await a.ipfs.client.p2p.ls()).length, { timeout: 10_000 }).toBe(0)
    expect(await b.ipfs.client.p2p.ls()).toEqual([])
  })
})
