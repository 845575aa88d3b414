import { randomBytes } from 'node:crypto'
import net from 'node:net'
import type { PeerStream } from '@tk/interface'
import { describe, expect, it } from 'vitest'
import { createEmbeddedIpfs } from '../src/index.js'
import { useKuboAndEmbedded } from './helpers.js'

/**
 * A local TCP server that collects what each connection sends and, once `expected` bytes have come,
 * answers `got <n>`. Kubo's tunnels have no half-close (when either side ends its writing, Kubo tears
 * down both directions), so the exchange is by length, not by end of stream.
 */
async function createSink(expected: number) {
  const received: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    const chunks: Buffer[] = []
    let total = 0
    socket.on('data', chunk => {
      chunks.push(chunk)
      total += chunk.length
      if (total === expected) {
        received.push(Buffer.concat(chunks))
        socket.write(`got ${total}`)
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

/** Reads from a stream until `length` bytes have come. */
async function readExactly(stream: AsyncIterable<Uint8Array>, length: number): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of stream) {
    chunks.push(chunk)
    total += chunk.byteLength
    if (total >= length) break
  }
  return Buffer.concat(chunks)
}

describe('streams on /x/<name> between an embedded node and Kubo stream mounting', () => {
  const both = useKuboAndEmbedded()

  it('embedded opens /x/<name> to a Kubo listener with reportPeerId: the service gets its peer id line, then the bytes, and its answer comes back', async () => {
    const { kuboNode, kubo, embedded, embeddedId } = both
    const name = `to-kubo-${randomBytes(3).toString('hex')}`
    const payload = randomBytes(1_000_000)
    const header = Buffer.from(`${embeddedId}\n`)
    await using sink = await createSink(header.length + payload.length)
    await kubo.openListener(name, sink.port, { reportPeerId: true })
    const stream = await embedded.streams.open(kuboNode.peerId, `/x/${name}`, { timeout: 10_000 })
    expect(stream.remotePeerId).toBe(kuboNode.peerId)
    const expectedAnswer = `got ${header.length + payload.length}`
    const answer = readExactly(stream, expectedAnswer.length)
    for (let offset = 0; offset < payload.length; offset += 64 * 1024)
      await stream.write(payload.subarray(offset, offset + 64 * 1024), { timeout: 10_000 })
    expect((await answer).toString()).toBe(expectedAnswer)
    await stream.close()
    expect(sink.received).toHaveLength(1)
    expect(sink.received[0]?.subarray(0, header.length).toString()).toBe(header.toString())
    expect(sink.received[0]?.subarray(header.length).equals(payload)).toBe(true)
    await kubo.closeListener(name)
  })

  it("a Kubo sender (p2p forward) reaches an embedded serve('/x/<name>'), which sees Kubo's authenticated peer id", async () => {
    const { kuboNode, kubo, embedded, embeddedId } = both
    const name = `to-embedded-${randomBytes(3).toString('hex')}`
    const seen: Array<{ from: string; bytes: Buffer }> = []
    const payload = randomBytes(300_000)
    const expectedReply = `echo ${payload.length}`
    await using server = await embedded.streams.serve(`/x/${name}`, async (stream: PeerStream) => {
      const bytes = await readExactly(stream, payload.length)
      seen.push({ from: stream.remotePeerId, bytes })
      await stream.write(Buffer.from(`echo ${bytes.length}`))
    })
    expect(server.protocol).toBe(`/x/${name}`)
    const sender = await kubo.openSender(name, 0, embeddedId)
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect(sender.port, '127.0.0.1')
      const chunks: Buffer[] = []
      socket.on('data', chunk => {
        chunks.push(chunk)
        const all = Buffer.concat(chunks)
        if (all.length >= expectedReply.length) {
          socket.destroy()
          resolve(all)
        }
      })
      socket.on('error', reject)
      socket.write(payload)
    })
    expect(reply.toString()).toBe(expectedReply)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.from).toBe(kuboNode.peerId)
    expect(seen[0]?.bytes.equals(payload)).toBe(true)
    await kubo.closeSender(name)
  })

  it('opening a protocol the peer does not serve rejects, and a bad protocol name is refused before any dial', async () => {
    const { kuboNode, embedded } = both
    const error = await embedded.streams
      .open(kuboNode.peerId, `/x/nobody-${randomBytes(3).toString('hex')}`, { timeout: 5_000 })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(Error)
    expect(['UnsupportedProtocolError', 'CallTimeoutError']).toContain((error as Error).name)
    await expect(embedded.streams.open(kuboNode.peerId, '/ipfs/bitswap/1.2.0')).rejects.toMatchObject({
      name: 'InvalidArgumentError'
    })
  })
})

describe('tunnels between an embedded node and Kubo', () => {
  const both = useKuboAndEmbedded()

  it("a Kubo tunnel user (openSender) reaches an embedded openListener with reportPeerId: the service gets Kubo's peer id line and the bytes, the answer comes back", async () => {
    const { kuboNode, kubo, embedded, embeddedId } = both
    const name = `tunnel-in-${randomBytes(3).toString('hex')}`
    const payload = randomBytes(500_000)
    const header = Buffer.from(`${kuboNode.peerId}\n`)
    await using sink = await createSink(header.length + payload.length)
    const listener = await embedded.tunnels.openListener(name, sink.port, { reportPeerId: true })
    expect(listener).toEqual({
      protocol: `/x/${name}`,
      listenAddress: `/p2p/${embeddedId}`,
      targetAddress: `/ip4/127.0.0.1/tcp/${sink.port}`,
      port: sink.port
    })
    const sender = await kubo.openSender(name, 0, embeddedId)
    const expectedAnswer = `got ${header.length + payload.length}`
    const answer = await exchange(sender.port, payload, expectedAnswer.length)
    expect(answer.toString()).toBe(expectedAnswer)
    expect(sink.received[0]?.subarray(0, header.length).toString()).toBe(header.toString())
    expect(sink.received[0]?.subarray(header.length).equals(payload)).toBe(true)
    expect((await embedded.tunnels.list()).listeners.map(entry => entry.protocol)).toEqual([`/x/${name}`])
    expect(await embedded.tunnels.closeListener(name)).toBe(1)
    expect(await embedded.tunnels.closeListener(name)).toBe(0)
    await kubo.closeSender(name)
  })

  it("an embedded openSender reaches a Kubo openListener: the service gets the embedded node's peer id line and the bytes", async () => {
    const { kuboNode, kubo, embedded, embeddedId } = both
    const name = `tunnel-out-${randomBytes(3).toString('hex')}`
    const payload = randomBytes(500_000)
    const header = Buffer.from(`${embeddedId}\n`)
    await using sink = await createSink(header.length + payload.length)
    await kubo.openListener(name, sink.port, { reportPeerId: true })
    const sender = await embedded.tunnels.openSender(name, 0, kuboNode.peerId)
    expect(sender.peerId).toBe(kuboNode.peerId)
    expect(sender.listenAddress).toBe(`/ip4/127.0.0.1/tcp/${sender.port}`)
    const expectedAnswer = `got ${header.length + payload.length}`
    const answer = await exchange(sender.port, payload, expectedAnswer.length)
    expect(answer.toString()).toBe(expectedAnswer)
    expect(sink.received[0]?.subarray(header.length).equals(payload)).toBe(true)
    expect(await embedded.tunnels.closeSender(name)).toBe(1)
    expect((await embedded.tunnels.list()).senders).toEqual([])
    await kubo.closeListener(name)
  })
})

/** Connects to a local port, writes `payload`, and resolves with the first `answerLength` bytes that come back. */
async function exchange(port: number, payload: Uint8Array, answerLength: number): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', chunk => {
      chunks.push(chunk)
      const all = Buffer.concat(chunks)
      if (all.length >= answerLength) {
        socket.destroy()
        resolve(all)
      }
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`closed after ${Buffer.concat(chunks).length} bytes`)))
    socket.write(payload)
  })
}

describe('streams between embedded nodes', () => {
  it('several peers at once: each incoming stream carries exactly its own peer id and payload, and each answer reaches its sender', async () => {
    await using server = await createEmbeddedIpfs()
    const serverAddress = (await server.addresses())[0] ?? ''
    const clients = await Promise.all([1, 2, 3].map(async () => await createEmbeddedIpfs()))
    try {
      const seen = new Map<string, Buffer>()
      const size = 200_000
      await using served = await server.streams.serve('/x/many', async stream => {
        const bytes = await readExactly(stream, size)
        seen.set(stream.remotePeerId, bytes)
        await stream.write(Buffer.from(stream.remotePeerId))
      })
      expect(served.protocol).toBe('/x/many')
      const results = await Promise.all(
        clients.map(async client => {
          const id = await client.peerId()
          await client.peers.connect(serverAddress, { timeout: 10_000 })
          const payload = Buffer.alloc(size, id)
          const stream = await client.streams.open(await server.peerId(), '/x/many', { timeout: 10_000 })
          const answer = readExactly(stream, id.length)
          await stream.write(payload, { timeout: 10_000 })
          const reply = (await answer).toString()
          await stream.close()
          return { id, payload, reply }
        })
      )
      for (const { id, payload, reply } of results) {
        expect(reply).toBe(id)
        expect(seen.get(id)?.equals(payload)).toBe(true)
      }
      expect(seen.size).toBe(3)
    } finally {
      await Promise.all(clients.map(async client => await client.close()))
    }
  })
})
