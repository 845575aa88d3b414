import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { StreamHandler, StreamServer, StreamSource } from '@tk/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Conversation,
  createStreamPair,
  createTransmission,
  type ReceivedFile,
  TransmissionError
} from '../src/index.js'
import { nextValue, sha256, sha256File } from './helpers.js'

// Unit tests: the whole protocol over in-memory stream pairs (createStreamPair), no Kubo and no
// network. The stream sources below are stubs of a network that say so; everything above them
// (framing, admission, limits, digests, part files, conversations) is the real code.

const ALICE = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const BOB = '12D3KooWGDMwwqrpcYKpKCgxuKT2NfqPqa94QnkbW6M7Ge5udoDw'

/** An in-memory network: each peer's source serves protocols; `open` pairs two in-memory ends. */
function memoryNetwork() {
  const served = new Map<string, Map<string, StreamHandler>>()
  let opened = 0
  const source = (peerId: string): StreamSource => ({
    peerId: async () => peerId,
    serve: async (protocol, handler): Promise<StreamServer> => {
      const mine = served.get(peerId) ?? new Map<string, StreamHandler>()
      served.set(peerId, mine)
      if (mine.has(protocol)) throw new Error(`${protocol} is served already`)
      mine.set(protocol, handler)
      const close = async (): Promise<void> => {
        if (mine.get(protocol) === handler) mine.delete(protocol)
      }
      return { protocol, close, [Symbol.asyncDispose]: close }
    },
    open: async (remote, protocol) => {
      const handler = served.get(remote)?.get(protocol)
      if (handler == null) throw new Error(`${remote} does not serve ${protocol}`)
      opened++
      const [mine, theirs] = createStreamPair(peerId, remote)
      void handler(theirs)
      return mine
    }
  })
  return { source, opened: () => opened }
}

describe('a transmission component over in-memory streams (no Kubo)', () => {
  const network = memoryNetwork()
  const alice = createTransmission({ streams: network.source(ALICE) })
  const bob = createTransmission({ streams: network.source(BOB) })
  let directory: string

  beforeAll(async () => {
    directory = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-component-'))
  })

  afterAll(async () => {
    await alice.close()
    await bob.close()
    await fs.rm(directory, { recursive: true, force: true })
  })

  it('data: delivered once, byte for byte, with the sender as the stream source authenticated it', async () => {
    const received: Array<{ data: Uint8Array; peerId: string }> = []
    const arrived = nextValue<void>(5_000)
    await using _inbox = await bob.listenForTransmissions('inbox', (data, peerId) => {
      received.push({ data, peerId })
      arrived.deliver()
    })
    // Beyond one chunk frame and the eager limit, so both the eager and the accepted paths run.
    const small = randomBytes(1000)
    const large = randomBytes(256 * 1024 * 2 + 7)
    await alice.transmitData(small, BOB, 'inbox')
    await arrived.promise
    await alice.transmitData(large, BOB, 'inbox')
    expect(received.map(entry => [sha256(entry.data), entry.peerId])).toEqual([
      [sha256(small), ALICE],
      [sha256(large), ALICE]
    ])
  })

  it('a file: stored under its name with the same SHA-256, metadata handed over, no part left', async () => {
    const source = path.join(directory, 'source.bin')
    const content = randomBytes(256 * 1024 + 1)
    await fs.writeFile(source, content)
    const inboxDir = await fs.mkdtemp(path.join(directory, 'files-'))
    const got = nextValue<ReceivedFile>(10_000)
    await using _files = await bob.listenForFileTransmissions('files', file => got.deliver(file), {
      directory: inboxDir
    })
    await alice.transmitFile(source, BOB, 'files', { metadata: 'about it' })
    const file = await got.promise
    expect(file.peerId).toBe(ALICE)
    expect(file.name).toBe('source.bin')
    expect(new TextDecoder().decode(file.metadata)).toBe('about it')
    expect(await sha256File(file.path)).toBe(sha256(content))
    expect(await fs.readdir(inboxDir)).toEqual(['source.bin'])
  })

  it('a conversation: messages both ways in order, a file inside it, and close seen by the peer', async () => {
    const joined = nextValue<Conversation>(5_000)
    await using _talk = await bob.listenForConversations('talk', async request => {
      expect(request.peerId).toBe(ALICE)
      expect(request.name).toBe('chat')
      joined.deliver(await request.join({ directory }))
    })
    const conversation = await alice.startConversation('chat', BOB, 'talk')
    const theirs = await joined.promise
    await conversation.say('one')
    await conversation.say('two')
    await theirs.say('three')
    const heard: string[] = []
    for await (const message of theirs) {
      heard.push(new TextDecoder().decode(message))
      if (heard.length === 2) break
    }
    expect(heard).toEqual(['one', 'two'])
    const reply = await conversation.listen({ timeout: 5_000 })
    expect(new TextDecoder().decode(reply)).toBe('three')

    const file = path.join(directory, 'in-conversation.bin')
    const content = randomBytes(70_000)
    await fs.writeFile(file, content)
    const [, received] = await Promise.all([
      conversation.transmitFile(file),
      theirs.listenForFile({ timeout: 5_000 })
    ])
    expect(await sha256File(received.path)).toBe(sha256(content))

    await conversation.close('done')
    expect(await theirs.closed).toEqual({ by: 'peer', reason: 'done' })
  })

  it('a refusal: a peer the listener does not allow gets `forbidden` and the handler never runs', async () => {
    let handled = 0
    await using _closed = await bob.listenForTransmissions(
      'closed',
      () => {
        handled++
      },
      { allow: peerId => peerId !== ALICE, onError: () => {} }
    )
    const error = await alice.transmitData('let me in', BOB, 'closed').catch((error: unknown) => error)
    expect(error).toBeInstanceOf(TransmissionError)
    expect((error as TransmissionError).code).toBe('forbidden')
    expect((error as TransmissionError).remote).toBe(true)
    expect(handled).toBe(0)
  })

  it('a limit: maxMessageSize bytes arrive, one more is refused `too-large` before any content', async () => {
    const limit = 100_000
    const received: string[] = []
    await using _limited = await bob.listenForTransmissions(
      'limited',
      data => void received.push(sha256(data)),
      {
        maxMessageSize: limit,
        onError: () => {}
      }
    )
    const fits = randomBytes(limit)
    await alice.transmitData(fits, BOB, 'limited')
    const error = await alice
      .transmitData(randomBytes(limit + 1), BOB, 'limited')
      .catch((error: unknown) => error)
    expect((error as TransmissionError).code).toBe('too-large')
    expect(received).toEqual([sha256(fits)])
  })

  it('two components in one process share nothing: listeners, closing, names', async () => {
    const other = createTransmission({ streams: memoryNetwork().source(BOB) })
    const mine = await bob.listenForTransmissions('shared-name', () => {})
    const theirs = await other.listenForTransmissions('shared-name', () => {})
    expect(bob.listeners.map(listener => listener.protocol)).toContain('/x/shared-name')
    expect(other.listeners.map(listener => listener.protocol)).toEqual(['/x/shared-name'])
    await other.close()
    expect(other.listeners).toEqual([])
    // Closing the other component left ours serving.
    await alice.transmitData('still here', BOB, 'shared-name')
    await mine.close()
    await theirs.close()
    await expect(other.transmitData('after close', BOB, 'inbox')).rejects.toMatchObject({ code: 'aborted' })
  })

  it('close() ends a call in flight (a listener that never answers) and the component’s listeners', async () => {
    const network2 = memoryNetwork()
    const quiet = network2.source(BOB)
    // A peer that takes the stream and never says a word.
    await quiet.serve('/x/silent', () => {})
    const closing = createTransmission({ streams: network2.source(ALICE) })
    await closing.listenForTransmissions('mine', () => {})
    const pending = closing.transmitData('anyone?', BOB, 'silent', { timeout: 60_000 }).catch(error => error)
    await expect.poll(() => network2.opened(), { timeout: 5_000 }).toBe(1)
    const started = Date.now()
    await closing.close()
    const error = await pending
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(error).toMatchObject({ code: 'aborted' })
    expect(closing.listeners).toEqual([])
  })

  it('a short timeout against a peer that never answers settles within timeout + 2 s', async () => {
    const network3 = memoryNetwork()
    await network3.source(BOB).serve('/x/silent', () => {})
    await using sender = createTransmission({ streams: network3.source(ALICE) })
    const started = Date.now()
    const error = await sender.transmitData('anyone?', BOB, 'silent', { timeout: 500 }).catch(error => error)
    expect((error as Error).name).toBe('TimeoutError')
    expect(Date.now() - started).toBeLessThan(2_500)
  })
})
