import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync } from 'node:fs'
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { listenForTransmissions, transmitData } from '../src/index.js'
import { encodePythonFrame, utf8, withChecksum } from '../src/python/b255.js'
import { ipfsToolkitPy } from '../src/python/index.js'
import { sha256, useTrio } from './helpers.js'

// Issue item 6 on the listener's side: requests in the Python IPFS-Toolkit's format each make the
// listener open a foreground `p2p listen` for their data. A hostile peer (C) sends many of them
// and never sends the data; an honest tk sender (A) must still be served by B, and B's own RPC
// must stay fast.

const trio = useTrio()

/** The data tunnels a listener opened for Python requests: `/x/<port>`. */
async function dataTunnels(): Promise<number> {
  const { b } = trio
  return (await b.ipfs.client.p2p.ls({ timeout: 10_000 })).filter(entry => /^\/x\/\d+$/.test(entry.protocol))
    .length
}

describe('a flood of Python-format requests', () => {
  it('opens at most the plug-in’s concurrencyPerPeer data tunnels for one peer; an honest sender is served and RPC stays fast', {
    timeout: 120_000
  }, async () => {
    const { a, b, c } = trio
    const received: string[] = []
    const fdsBefore = readdirSync('/proc/self/fd').length
    // Closed by hand below (and by `await using` should the test fail first).
    await using python = ipfsToolkitPy({ client: b.ipfs.client })
    await using listener = await listenForTransmissions('flooded', data => void received.push(sha256(data)), {
      ipfs: b.ipfs,
      wire: python,
      // Long, so the accepted requests are still waiting for their data when the listener closes.
      idleTimeout: 60_000,
      onError: () => {}
    })
    await using tunnel = await c.ipfs.client.p2p.forward(
      '/x/flooded',
      '/ip4/127.0.0.1/tcp/0',
      `/p2p/${b.node.peerId}`,
      { foreground: true }
    )
    const port = Number(/\/tcp\/(\d+)/.exec(tunnel.listenAddress)?.[1])
    // A valid request: checksum byte + C's own peer id (which Kubo authenticates), then nothing.
    const request = encodePythonFrame(withChecksum(utf8(c.node.peerId)))
    const sockets: net.Socket[] = []
    /** What the listener answered on each connection, and whether it has closed it. */
    const replies: Array<{ text: string; closed: boolean }> = []
    try {
      for (let index = 0; index < 48; index++) {
        const socket = net.connect({ host: '127.0.0.1', port })
        socket.on('error', () => {})
        await once(socket, 'connect')
        const reply = { text: '', closed: false }
        replies.push(reply)
        socket.on('data', chunk => {
          reply.text += chunk.toString('latin1')
        })
        socket.on('close', () => {
          reply.closed = true
        })
        socket.write(request)
        sockets.push(socket)
      }
      // Every request is answered: accepted (a data tunnel opened for it) or refused (closed).
      const answered = (): number =>
        replies.filter(reply => reply.closed || reply.text.startsWith('Transmission request accepted.'))
          .length
      await expect.poll(answered, { timeout: 20_000 }).toBe(48)
      const accepted = replies.filter(reply => reply.text.startsWith('Transmission request accepted.')).length
      expect(accepted).toBeGreaterThan(0)
      expect(accepted).toBeLessThanOrEqual(2)
      expect(await dataTunnels()).toBeLessThanOrEqual(2)

      // Meanwhile: B's RPC answers at once, and an honest sender gets through.
      const started = performance.now()
      await b.ipfs.client.id({ timeout: 10_000 })
      expect(performance.now() - started).toBeLessThan(2_000)
      const payload = randomBytes(100_000)
      await transmitData(payload, b.node.peerId, 'flooded', { ipfs: a.ipfs, timeout: 10_000 })
      await expect.poll(() => received).toEqual([sha256(payload)])
    } finally {
      for (const socket of sockets) socket.destroy()
    }
    // Closing does not wait out the Python requests still waiting for their data, and leaves
    // nothing behind: no data tunnel in Kubo, no socket in this process.
    const closing = Date.now()
    await listener.close()
    expect(Date.now() - closing).toBeLessThan(3_000)
    await expect.poll(dataTunnels, { timeout: 15_000, interval: 500 }).toBe(0)
    await expect
      .poll(() => readdirSync('/proc/self/fd').length, { timeout: 10_000 })
      .toBeLessThanOrEqual(fdsBefore + 6)
  })

  it('a Python request dribbled one byte a second is cut at the opening deadline', {
    timeout: 60_000
  }, async () => {
    const { b, c } = trio
    await using python = ipfsToolkitPy({ client: b.ipfs.client })
    await using _listener = await listenForTransmissions('dribbled', () => {}, {
      ipfs: b.ipfs,
      wire: python,
      openingTimeout: 2_000,
      // Long: only the opening deadline can cut the dribbler in time.
      idleTimeout: 60_000,
      onError: () => {}
    })
    await using tunnel = await c.ipfs.client.p2p.forward(
      '/x/dribbled',
      '/ip4/127.0.0.1/tcp/0',
      `/p2p/${b.node.peerId}`,
      { foreground: true }
    )
    const port = Number(/\/tcp\/(\d+)/.exec(tunnel.listenAddress)?.[1])
    const request = encodePythonFrame(withChecksum(utf8(c.node.peerId)))
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.on('error', () => {})
    await once(socket, 'connect')
    const closed = once(socket, 'close')
    const started = Date.now()
    let sent = 0
    const dribble = setInterval(() => {
      if (sent < request.byteLength) socket.write(request.subarray(sent, ++sent))
    }, 1_000)
    try {
      socket.write(request.subarray(0, ++sent))
      await closed
      expect(Date.now() - started).toBeLessThan(2_000 + 3_000)
      // It never got as far as a data tunnel.
      expect(sent).toBeLessThan(request.byteLength)
    } finally {
      clearInterval(dribble)
      socket.destroy()
    }
  })
})
