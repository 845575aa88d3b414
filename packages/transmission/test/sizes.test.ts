import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CHUNK_SIZE,
  type Conversation,
  type Listener,
  listenForConversations,
  listenForFileTransmissions,
  listenForTransmissions,
  MAX_METADATA_BYTES,
  type ReceivedFile,
  startConversation,
  transmitData,
  transmitFile
} from '../src/index.js'
import { nextValue, type Pair, sha256, sha256File, startPair } from './helpers.js'

// Sizes around every buffer and limit a payload crosses on its way: Node's socket high-water
// mark (16 KiB on Node 20, 64 KiB on Node >= 22), the eager limit (data up to 64 KiB goes out
// with `open`), the chunk size (256 KiB), the control-frame limit (64 KiB) and the metadata
// limit (48 KiB). One pair of nodes and one listener per kind serve the whole sweep.
const KiB = 1024
const around = (limit: number): number[] => [limit - 1, limit, limit + 1]
const DATA_SIZES = [
  0,
  1,
  ...around(16 * KiB),
  20 * KiB,
  60 * KiB,
  ...around(64 * KiB),
  100 * KiB,
  ...around(CHUNK_SIZE)
]
/** The data listener's `maxMessageSize` here, to probe that limit too. */
const MAX_MESSAGE = 2 * CHUNK_SIZE + 3
/** Every call here gets this timeout: a size that stalls fails in seconds, not after 30 s. */
const CALL_TIMEOUT = 15_000

let pair: Pair
let tmp: string
const received = new Map<string, Uint8Array>()
const files: ReceivedFile[] = []
let conversations: Conversation[] = []
const listeners: Listener[] = []

beforeAll(async () => {
  ;[pair, tmp] = await Promise.all([startPair(), fs.mkdtemp(path.join(os.tmpdir(), 'tk-sizes-'))])
  const { b } = pair
  await fs.mkdir(path.join(tmp, 'in'))
  await fs.mkdir(path.join(tmp, 'conversation-in'))
  listeners.push(
    await listenForTransmissions('sizes-data', data => void received.set(sha256(data), data), {
      ipfs: b.ipfs,
      maxMessageSize: MAX_MESSAGE
    }),
    await listenForFileTransmissions('sizes-files', file => void files.push(file), {
      ipfs: b.ipfs,
      directory: path.join(tmp, 'in')
    }),
    await listenForConversations(
      'sizes-chat',
      async request => {
        const conversation = await request.join({
          maxMessageSize: MAX_MESSAGE,
          directory: path.join(tmp, 'conversation-in')
        })
        conversations.push(conversation)
        // Answers each message with its SHA-256 and a message of the same size back.
        for await (const message of conversation) {
          await conversation.say(sha256(message))
          await conversation.say(new Uint8Array(message.byteLength).fill(0x5a))
        }
      },
      { ipfs: b.ipfs }
    )
  )
})

afterAll(async () => {
  for (const conversation of conversations) await conversation.close()
  conversations = []
  for (const listener of listeners) await listener.close()
  await pair?.stop()
  await fs.rm(tmp, { recursive: true, force: true })
})

async function makeFile(name: string, size: number): Promise<string> {
  const file = path.join(tmp, name)
  await fs.writeFile(file, randomBytes(size))
  return file
}

describe('sizes at every boundary', () => {
  it.each(DATA_SIZES)('transmitData of %i bytes arrives intact', async size => {
    const payload = randomBytes(size)
    const started = Date.now()
    await transmitData(payload, pair.b.node.peerId, 'sizes-data', {
      ipfs: pair.a.ipfs,
      timeout: CALL_TIMEOUT
    })
    expect(Date.now() - started).toBeLessThan(CALL_TIMEOUT)
    await expect.poll(() => received.get(sha256(payload))?.byteLength).toBe(size)
  })

  it('transmitData at the listener’s maxMessageSize arrives; one byte more is refused with too-large', async () => {
    const payload = randomBytes(MAX_MESSAGE)
    await transmitData(payload, pair.b.node.peerId, 'sizes-data', {
      ipfs: pair.a.ipfs,
      timeout: CALL_TIMEOUT
    })
    await expect.poll(() => received.get(sha256(payload))?.byteLength).toBe(MAX_MESSAGE)
    await expect(
      transmitData(randomBytes(MAX_MESSAGE + 1), pair.b.node.peerId, 'sizes-data', {
        ipfs: pair.a.ipfs,
        timeout: CALL_TIMEOUT
      })
    ).rejects.toMatchObject({ name: 'TransmissionError', code: 'too-large', remote: true })
  })

  it.each([0, 1, ...around(16 * KiB), ...around(64 * KiB), ...around(CHUNK_SIZE)])(
    'transmitFile of %i bytes arrives intact',
    async size => {
      const file = await makeFile(`content-${size}.bin`, size)
      await transmitFile(file, pair.b.node.peerId, 'sizes-files', {
        ipfs: pair.a.ipfs,
        timeout: CALL_TIMEOUT
      })
      const got = files.find(entry => entry.name === `content-${size}.bin`)
      expect(got?.size).toBe(size)
      expect(await sha256File(got?.path ?? '')).toBe(await sha256File(file))
    }
  )

  it.each([0, 1, 12 * KiB, ...around(16 * KiB), 32 * KiB, MAX_METADATA_BYTES - 1, MAX_METADATA_BYTES])(
    'transmitFile with %i bytes of metadata: the metadata arrives intact',
    async size => {
      const file = await makeFile(`metadata-${size}.txt`, 100)
      const metadata = randomBytes(size)
      await transmitFile(file, pair.b.node.peerId, 'sizes-files', {
        ipfs: pair.a.ipfs,
        metadata,
        timeout: CALL_TIMEOUT
      })
      const got = files.find(entry => entry.name === `metadata-${size}.txt`)
      expect(got?.metadata.byteLength).toBe(size)
      expect(sha256(got?.metadata ?? new Uint8Array(0))).toBe(sha256(metadata))
    }
  )

  it('metadata of 48 KiB + 1 is refused by the sender with InvalidArgumentError, before any request', async () => {
    expect(MAX_METADATA_BYTES).toBe(48 * KiB)
    const file = await makeFile('metadata-over.txt', 100)
    const error = await transmitFile(file, pair.b.node.peerId, 'sizes-files', {
      ipfs: pair.a.ipfs,
      metadata: new Uint8Array(MAX_METADATA_BYTES + 1),
      timeout: CALL_TIMEOUT
    }).catch((caught: unknown) => caught as Error)
    expect(error).toMatchObject({ name: 'InvalidArgumentError' })
    expect(error?.message).toMatch(/metadata.*49153.*49152|49152.*49153/s)
    // The largest metadata in multi-byte characters: counted in UTF-8 bytes, not characters.
    const multiByte = 'é'.repeat(MAX_METADATA_BYTES / 2)
    await transmitFile(file, pair.b.node.peerId, 'sizes-files', {
      ipfs: pair.a.ipfs,
      metadata: multiByte,
      timeout: CALL_TIMEOUT
    })
    await expect
      .poll(() =>
        files.filter(entry => entry.name.startsWith('metadata-over')).map(entry => entry.metadata.byteLength)
      )
      .toEqual([MAX_METADATA_BYTES])
  })

  describe('conversation messages', () => {
    let alice: Conversation
    beforeAll(async () => {
      alice = await startConversation('sizes', pair.b.node.peerId, 'sizes-chat', {
        ipfs: pair.a.ipfs,
        maxMessageSize: MAX_MESSAGE,
        directory: tmp,
        timeout: CALL_TIMEOUT
      })
    })
    afterAll(async () => {
      await alice?.close()
    })

    it.each([...DATA_SIZES, MAX_MESSAGE])('a message of %i bytes arrives intact both ways', async size => {
      const message = randomBytes(size)
      await alice.say(message, { timeout: CALL_TIMEOUT })
      expect(new TextDecoder().decode(await alice.listen({ timeout: CALL_TIMEOUT }))).toBe(sha256(message))
      const back = await alice.listen({ timeout: CALL_TIMEOUT })
      expect(back.byteLength).toBe(size)
      expect(sha256(back)).toBe(sha256(new Uint8Array(size).fill(0x5a)))
    })

    it.each([0, 1, 12 * KiB, ...around(16 * KiB), MAX_METADATA_BYTES])(
      'a file with %i bytes of metadata arrives with it',
      async size => {
        const file = await makeFile(`conversation-metadata-${size}.txt`, 3 * KiB)
        const metadata = randomBytes(size)
        const bob = conversations.at(-1)
        expect(bob?.name).toBe('sizes')
        const got = bob?.listenForFile({ timeout: CALL_TIMEOUT })
        await alice.transmitFile(file, { metadata, timeout: CALL_TIMEOUT })
        const stored = await got
        expect(stored?.metadata.byteLength).toBe(size)
        expect(sha256(stored?.metadata ?? new Uint8Array(0))).toBe(sha256(metadata))
        expect(await sha256File(stored?.path ?? '')).toBe(await sha256File(file))
      }
    )

    it('a file with 48 KiB + 1 of metadata is refused with InvalidArgumentError, and the conversation goes on', async () => {
      const file = await makeFile('conversation-metadata-over.txt', 10)
      await expect(
        alice.transmitFile(file, { metadata: new Uint8Array(MAX_METADATA_BYTES + 1) })
      ).rejects.toMatchObject({ name: 'InvalidArgumentError' })
      await alice.say('still here', { timeout: CALL_TIMEOUT })
      expect(new TextDecoder().decode(await alice.listen({ timeout: CALL_TIMEOUT }))).toBe(
        sha256(new TextEncoder().encode('still here'))
      )
      await alice.listen({ timeout: CALL_TIMEOUT })
    })

    it('a message beyond the peer’s maxMessageSize ends the conversation with too-large', async () => {
      const lone = nextValue<Error>()
      const doomed = await startConversation('sizes-over', pair.b.node.peerId, 'sizes-chat', {
        ipfs: pair.a.ipfs,
        timeout: CALL_TIMEOUT
      })
      doomed.say(new Uint8Array(MAX_MESSAGE + 1), { timeout: CALL_TIMEOUT }).catch(lone.deliver)
      expect(await lone.promise).toMatchObject({ name: 'TransmissionError', code: 'too-large', remote: true })
      expect((await doomed.closed).by).toBe('error')
    })
  })
})
