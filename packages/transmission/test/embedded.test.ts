import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createIpfs, type Ipfs } from '@tk/api'
import { createEmbeddedIpfs } from '@tk/embedded'
import type { Ipfs as EmbeddedIpfs } from '@tk/interface'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Conversation,
  createTransmission,
  listenForTransmissions,
  type ReceivedFile,
  type Transmission,
  transmitData,
  transmitFile
} from '../src/index.js'
import { nextValue, sha256, sha256File } from './helpers.js'

// The same protocol over two kinds of stream source: an embedded node (@tk/embedded, libp2p
// streams in this process) and a real Kubo daemon (@tk/testkit, stream mounting). Every payload is
// checked by SHA-256 at the peer it was addressed to, with the sender as that peer saw it.

let kuboNode: KuboNode
let kubo: Ipfs
let embedded: EmbeddedIpfs
let embeddedId: string
let onKubo: Transmission
let onEmbedded: Transmission
let tmp: string

beforeAll(async () => {
  kuboNode = await createKuboNode()
  kubo = createIpfs({ backend: 'http', api: kuboNode.apiUrl })
  embedded = await createEmbeddedIpfs()
  embeddedId = await embedded.peerId()
  await embedded.peers.connect(kuboNode.swarmAddrs[0] ?? '', { timeout: 10_000 })
  onKubo = createTransmission({ streams: kubo.streams })
  onEmbedded = createTransmission({ streams: embedded.streams })
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-embedded-transmission-'))
})

afterAll(async () => {
  await onEmbedded?.close()
  await onKubo?.close()
  await embedded?.close()
  await kubo?.close()
  await kuboNode?.stop()
  if (tmp != null) await fs.rm(tmp, { recursive: true, force: true })
})

/** Sizes around our frame limits: empty, one byte, one chunk frame (256 KiB) ± 1, several frames. */
const SIZES = [0, 1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024 + 5]

async function dataBothWays(
  from: Transmission,
  to: Transmission,
  toPeerId: string,
  fromPeerId: string
): Promise<void> {
  const name = `data-${randomBytes(3).toString('hex')}`
  const received: Array<{ sha: string; peerId: string }> = []
  await using _inbox = await to.listenForTransmissions(name, (data, peerId) => {
    received.push({ sha: sha256(data), peerId })
  })
  const payloads = SIZES.map(size => randomBytes(size))
  for (const payload of payloads) await from.transmitData(payload, toPeerId, name, { timeout: 30_000 })
  // Then 16 at once: each arrives exactly once.
  const burst = Array.from({ length: 16 }, () => randomBytes(1024))
  await Promise.all(burst.map(payload => from.transmitData(payload, toPeerId, name, { timeout: 30_000 })))
  await expect.poll(() => received.length, { timeout: 10_000 }).toBe(payloads.length + burst.length)
  expect(received.slice(0, payloads.length).map(entry => entry.sha)).toEqual(payloads.map(sha256))
  expect(
    received
      .slice(payloads.length)
      .map(entry => entry.sha)
      .sort()
  ).toEqual(burst.map(sha256).sort())
  expect(new Set(received.map(entry => entry.peerId))).toEqual(new Set([fromPeerId]))
}

async function fileOneWay(from: Transmission, to: Transmission, toPeerId: string, fromPeerId: string) {
  const name = `files-${randomBytes(3).toString('hex')}`
  const directory = await fs.mkdtemp(path.join(tmp, 'into-'))
  const source = path.join(tmp, `${name}.bin`)
  await fs.writeFile(source, randomBytes(5 * 1024 * 1024 + 3))
  const got = nextValue<ReceivedFile>(60_000)
  await using _files = await to.listenForFileTransmissions(name, file => got.deliver(file), { directory })
  await from.transmitFile(source, toPeerId, name, { metadata: 'across kinds', timeout: 60_000 })
  const file = await got.promise
  expect(file.peerId).toBe(fromPeerId)
  expect(new TextDecoder().decode(file.metadata)).toBe('across kinds')
  expect(await sha256File(file.path)).toBe(await sha256File(source))
  expect(await fs.readdir(directory)).toEqual([`${name}.bin`])
}

async function conversationOneWay(
  starter: Transmission,
  joiner: Transmission,
  joinerPeerId: string,
  starterPeerId: string
): Promise<void> {
  const name = `talk-${randomBytes(3).toString('hex')}`
  const joined = nextValue<Conversation>(20_000)
  await using _talk = await joiner.listenForConversations(name, async request => {
    expect(request.peerId).toBe(starterPeerId)
    joined.deliver(await request.join({ directory: tmp }))
  })
  await using conversation = await starter.startConversation('chat', joinerPeerId, name, { timeout: 20_000 })
  const theirs = await joined.promise
  const messages = [randomBytes(10), randomBytes(300_000), randomBytes(1)]
  for (const message of messages) await conversation.say(message, { timeout: 20_000 })
  const heard: string[] = []
  for await (const message of theirs) {
    heard.push(sha256(message))
    if (heard.length === messages.length) break
  }
  expect(heard).toEqual(messages.map(sha256))
  const reply = randomBytes(70_000)
  await theirs.say(reply, { timeout: 20_000 })
  expect(sha256(await conversation.listen({ timeout: 20_000 }))).toBe(sha256(reply))
  // A file inside the conversation, from the joiner's side.
  const file = path.join(tmp, `${name}.bin`)
  await fs.writeFile(file, randomBytes(600_000))
  const [, received] = await Promise.all([
    theirs.transmitFile(file, { timeout: 30_000 }),
    conversation.listenForFile({ timeout: 30_000 })
  ])
  expect(await sha256File(received.path)).toBe(await sha256File(file))
  await conversation.close('bye')
  expect(await theirs.closed).toEqual({ by: 'peer', reason: 'bye' })
}

describe('transmission between an embedded node and Kubo', () => {
  it('data embedded → Kubo: sizes around the chunk frame, and 16 at once, each once at Kubo', async () => {
    await dataBothWays(onEmbedded, onKubo, kuboNode.peerId, embeddedId)
  })

  it('data Kubo → embedded: the same, each once at the embedded node', async () => {
    await dataBothWays(onKubo, onEmbedded, embeddedId, kuboNode.peerId)
  })

  it('50 at once from Kubo to an embedded listener (beyond libp2p’s default of 32 inbound streams per protocol), each once', async () => {
    const name = `many-${randomBytes(3).toString('hex')}`
    const received: string[] = []
    await using _inbox = await onEmbedded.listenForTransmissions(
      name,
      data => void received.push(sha256(data))
    )
    const payloads = Array.from({ length: 50 }, () => randomBytes(2048))
    await Promise.all(
      payloads.map(payload => onKubo.transmitData(payload, embeddedId, name, { timeout: 30_000 }))
    )
    await expect.poll(() => received.length).toBe(50)
    expect([...received].sort()).toEqual(payloads.map(sha256).sort())
  })

  it('a 5 MiB file embedded → Kubo and Kubo → embedded, by SHA-256 at the receiver', async () => {
    await fileOneWay(onEmbedded, onKubo, kuboNode.peerId, embeddedId)
    await fileOneWay(onKubo, onEmbedded, embeddedId, kuboNode.peerId)
  })

  it('a conversation started on the embedded node with a Kubo joiner, and the other way round', async () => {
    await conversationOneWay(onEmbedded, onKubo, kuboNode.peerId, embeddedId)
    await conversationOneWay(onKubo, onEmbedded, embeddedId, kuboNode.peerId)
  })

  it('a Kubo user of the one-line functions (p2p forward tunnels) reaches an embedded listener, and back', async () => {
    const name = `legacy-${randomBytes(3).toString('hex')}`
    const received: Array<{ sha: string; peerId: string }> = []
    await using _inbox = await onEmbedded.listenForTransmissions(name, (data, peerId) => {
      received.push({ sha: sha256(data), peerId })
    })
    const payload = randomBytes(100_000)
    await transmitData(payload, embeddedId, name, { ipfs: kubo, timeout: 30_000 })
    const directory = await fs.mkdtemp(path.join(tmp, 'legacy-'))
    const got = nextValue<ReceivedFile>(30_000)
    await using _files = await onEmbedded.listenForFileTransmissions(
      `${name}-files`,
      file => got.deliver(file),
      {
        directory
      }
    )
    const source = path.join(tmp, 'legacy.bin')
    await fs.writeFile(source, randomBytes(1024 * 1024 + 1))
    await transmitFile(source, embeddedId, `${name}-files`, { ipfs: kubo, timeout: 30_000 })
    // The handler runs once `done` is out, so its call may come a moment after the sender resolved.
    await expect.poll(() => received).toEqual([{ sha: sha256(payload), peerId: kuboNode.peerId }])
    const file = await got.promise
    expect(file.peerId).toBe(kuboNode.peerId)
    expect(await sha256File(file.path)).toBe(await sha256File(source))

    // And the embedded node answers a Kubo user's one-line listener.
    const back: string[] = []
    await using _kuboInbox = await listenForTransmissions(
      `${name}-back`,
      (data, peerId) => {
        back.push(`${sha256(data)} ${peerId}`)
      },
      { ipfs: kubo }
    )
    const answer = randomBytes(5_000)
    await onEmbedded.transmitData(answer, kuboNode.peerId, `${name}-back`, { timeout: 30_000 })
    await expect.poll(() => back).toEqual([`${sha256(answer)} ${embeddedId}`])
  })
})
