import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createIpfs, type Ipfs } from '@tk/api'
import { createKuboCluster, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Conversation,
  listenForConversations,
  listenForFileTransmissions,
  listenForTransmissions,
  type ReceivedFile,
  startConversation,
  transmitData,
  transmitFile
} from '../src/index.js'
import { sha256, sha256File } from './helpers.js'

/**
 * Several transmissions at the same moment, across four real nodes: each payload must reach exactly
 * the peer it was addressed to, and each peer must see the right sender. Transmissions to different
 * peers share one sender's Kubo, whose port-0 forwards are opened concurrently (issue 13, defect 1).
 */

interface Peer {
  node: KuboNode
  ipfs: Ipfs
  id: string
}

let cluster: KuboCluster
let peers: Peer[]
let tmp: string

beforeAll(async () => {
  ;[cluster, tmp] = await Promise.all([
    createKuboCluster(4),
    fs.mkdtemp(path.join(os.tmpdir(), 'tk-concurrency-'))
  ])
  peers = cluster.nodes.map(node => ({
    node,
    ipfs: createIpfs({ backend: 'http', api: node.apiUrl }),
    id: node.peerId
  }))
})

afterAll(async () => {
  await Promise.all((peers ?? []).map(peer => peer.ipfs.close()))
  await cluster?.stop()
  await fs.rm(tmp, { recursive: true, force: true })
})

const ROUNDS = 4
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** A payload that names its sender, addressee, listener and round, padded to `size` random bytes. */
function payload(from: Peer, to: Peer, name: string, round: number, size = 1024): Uint8Array {
  const label = new TextEncoder().encode(`${from.id}>${to.id}/${name}#${round}|`)
  return new Uint8Array(Buffer.concat([label, randomBytes(Math.max(0, size - label.length))]))
}

function sender(): Peer {
  const first = peers[0]
  if (first == null) throw new Error('no nodes')
  return first
}

function receivers(): Peer[] {
  return peers.slice(1)
}

describe('transmissions at the same moment', () => {
  it('one sender to three receivers at once: each data payload reaches exactly its addressee', async () => {
    const from = sender()
    const got = new Map<string, Array<{ hash: string; peerId: string }>>()
    const listeners = await Promise.all(
      receivers().map(to =>
        listenForTransmissions(
          'same-name',
          (data, peerId) => {
            const list = got.get(to.id) ?? []
            list.push({ hash: sha256(data), peerId })
            got.set(to.id, list)
          },
          { ipfs: to.ipfs }
        )
      )
    )
    try {
      const expected = new Map<string, Array<{ hash: string; peerId: string }>>()
      for (let round = 0; round < ROUNDS; round++) {
        const sent = receivers().map(to => ({ to, data: payload(from, to, 'same-name', round) }))
        await Promise.all(
          sent.map(({ to, data }) => transmitData(data, to.id, 'same-name', { ipfs: from.ipfs }))
        )
        for (const { to, data } of sent) {
          const list = expected.get(to.id) ?? []
          list.push({ hash: sha256(data), peerId: from.id })
          expected.set(to.id, list)
        }
      }
      // `transmitData` resolves on the receiver's `done`, which it sends after its handler ran.
      for (const to of receivers()) {
        expect(got.get(to.id)?.sort(byHash)).toEqual(expected.get(to.id)?.sort(byHash))
      }
    } finally {
      await Promise.all(listeners.map(listener => listener.close()))
    }
  })

  it('one sender to three receivers at once: each file reaches exactly its addressee', async () => {
    const from = sender()
    const got = new Map<string, ReceivedFile[]>()
    const listeners = await Promise.all(
      receivers().map(async to => {
        const directory = path.join(tmp, `inbox-${to.id.slice(-8)}`)
        await fs.mkdir(directory, { recursive: true })
        return await listenForFileTransmissions(
          'files',
          file => {
            const list = got.get(to.id) ?? []
            list.push(file)
            got.set(to.id, list)
          },
          { ipfs: to.ipfs, directory }
        )
      })
    )
    try {
      const expected = new Map<string, Array<{ name: string; hash: string; metadata: string }>>()
      for (let round = 0; round < 2; round++) {
        const sent = await Promise.all(
          receivers().map(async (to, index) => {
            const name = `for-${to.id.slice(-8)}-${round}.bin`
            const file = path.join(tmp, name)
            await fs.writeFile(file, payload(from, to, 'files', round, 200_000 + index))
            return { to, name, file, hash: await sha256File(file) }
          })
        )
        await Promise.all(
          sent.map(({ to, file }) =>
            transmitFile(file, to.id, 'files', { ipfs: from.ipfs, metadata: `for ${to.id}` })
          )
        )
        for (const { to, name, hash } of sent) {
          const list = expected.get(to.id) ?? []
          list.push({ name, hash, metadata: `for ${to.id}` })
          expected.set(to.id, list)
        }
      }
      for (const to of receivers()) {
        const files = got.get(to.id) ?? []
        expect(files.every(file => file.peerId === from.id)).toBe(true)
        const arrived = await Promise.all(
          files.map(async file => ({
            name: file.name,
            hash: await sha256File(file.path),
            metadata: text(file.metadata)
          }))
        )
        expect(arrived.sort(byName)).toEqual(expected.get(to.id)?.sort(byName))
      }
    } finally {
      await Promise.all(listeners.map(listener => listener.close()))
    }
  })

  it('one peer starts conversations with three at once: each side talks to exactly the right peer', async () => {
    const from = sender()
    const heard = new Map<string, Array<{ peerId: string; name: string; message: string }>>()
    const listeners = await Promise.all(
      receivers().map(to =>
        listenForConversations(
          'talk',
          async request => {
            const conversation = await request.join()
            const message = text(await conversation.listen({ timeout: 20_000 }))
            const list = heard.get(to.id) ?? []
            list.push({ peerId: conversation.peerId, name: conversation.name, message })
            heard.set(to.id, list)
            await conversation.say(`${to.id} answers ${message}`)
          },
          { ipfs: to.ipfs }
        )
      )
    )
    const conversations: Conversation[] = []
    try {
      for (let round = 0; round < 2; round++) {
        const opened = await Promise.all(
          receivers().map(to => startConversation(`round-${round}`, to.id, 'talk', { ipfs: from.ipfs }))
        )
        conversations.push(...opened)
        expect(opened.map(conversation => conversation.peerId)).toEqual(receivers().map(to => to.id))
        const answers = await Promise.all(
          opened.map(async (conversation, index) => {
            await conversation.say(`hello ${receivers()[index]?.id} ${round}`)
            return text(await conversation.listen({ timeout: 20_000 }))
          })
        )
        expect(answers).toEqual(receivers().map(to => `${to.id} answers hello ${to.id} ${round}`))
        await Promise.all(opened.map(conversation => conversation.close()))
      }
      for (const to of receivers()) {
        expect(heard.get(to.id)).toEqual(
          [0, 1].map(round => ({
            peerId: from.id,
            name: `round-${round}`,
            message: `hello ${to.id} ${round}`
          }))
        )
      }
    } finally {
      await Promise.all(conversations.map(conversation => conversation.close()))
      await Promise.all(listeners.map(listener => listener.close()))
    }
  })

  it('three senders to one receiver at once: each payload is reported with its own sender', async () => {
    const to = sender()
    const got: Array<{ hash: string; peerId: string }> = []
    await using _listener = await listenForTransmissions(
      'collect',
      (data, peerId) => void got.push({ hash: sha256(data), peerId }),
      { ipfs: to.ipfs }
    )
    const expected: Array<{ hash: string; peerId: string }> = []
    for (let round = 0; round < ROUNDS; round++) {
      const sent = receivers().map(from => ({ from, data: payload(from, to, 'collect', round) }))
      await Promise.all(
        sent.map(({ from, data }) => transmitData(data, to.id, 'collect', { ipfs: from.ipfs }))
      )
      expected.push(...sent.map(({ from, data }) => ({ hash: sha256(data), peerId: from.id })))
    }
    expect(got.sort(byHash)).toEqual(expected.sort(byHash))
  })

  it('mixed listener names on several peers at once: each payload reaches exactly its peer and listener', async () => {
    const from = sender()
    const names = ['alpha', 'beta']
    const got = new Map<string, string[]>()
    const listeners = await Promise.all(
      receivers().flatMap(to =>
        names.map(name =>
          listenForTransmissions(
            name,
            (data, peerId) => {
              const key = `${to.id}/${name}`
              got.set(key, [...(got.get(key) ?? []), `${peerId} ${sha256(data)}`])
            },
            { ipfs: to.ipfs }
          )
        )
      )
    )
    try {
      const expected = new Map<string, string[]>()
      for (let round = 0; round < 2; round++) {
        const sent = receivers().flatMap(to =>
          names.map(name => ({ to, name, data: payload(from, to, name, round, 512 + round) }))
        )
        await Promise.all(
          sent.map(({ to, name, data }) => transmitData(data, to.id, name, { ipfs: from.ipfs }))
        )
        for (const { to, name, data } of sent) {
          const key = `${to.id}/${name}`
          expected.set(key, [...(expected.get(key) ?? []), `${from.id} ${sha256(data)}`])
        }
      }
      expect(got.size).toBe(receivers().length * names.length)
      for (const [key, list] of expected) expect(got.get(key)?.sort()).toEqual(list.sort())
    } finally {
      await Promise.all(listeners.map(listener => listener.close()))
    }
  })
})

function byHash(first: { hash: string }, second: { hash: string }): number {
  return first.hash.localeCompare(second.hash)
}

function byName(first: { name: string }, second: { name: string }): number {
  return first.name.localeCompare(second.name)
}
