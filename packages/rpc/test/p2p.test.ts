import net from 'node:net'
import { connect, createKuboCluster, createKuboNode, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createP2pCommands } from '../src/commands/p2p.js'
import { httpTransport } from '../src/http-transport.js'
import { Invoker } from '../src/invoker.js'

/** A TCP service on 127.0.0.1 that records what each connection sends. */
interface EchoServer {
  port: number
  /** The sockets accepted so far, in order, with the text each has received. */
  connections: Array<{ socket: net.Socket; received: string }>
  close(): Promise<void>
}

async function startServer(): Promise<EchoServer> {
  const connections: EchoServer['connections'] = []
  const server = net.createServer(socket => {
    const connection = { socket, received: '' }
    connections.push(connection)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      connection.received += chunk
    })
    socket.on('error', () => {
      // A reset from the tunnel (stream close) is expected here.
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    connections,
    close: async () => {
      for (const { socket } of connections) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

async function dial(
  address: string
): Promise<{ socket: net.Socket; received: () => string; ended: Promise<void> }> {
  const port = Number(/\/tcp\/(\d+)/.exec(address)?.[1])
  const socket = net.connect(port, '127.0.0.1')
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    text += chunk
  })
  const ended = new Promise<void>(resolve => socket.once('close', () => resolve()))
  socket.on('error', () => {
    // The tunnel resets the connection when its stream is closed; `ended` reports it.
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return { socket, received: () => text, ended }
}

describe('p2p', () => {
  let a: KuboNode
  let b: KuboNode
  let server: EchoServer
  let target: string
  let invokerA: Invoker
  let invokerB: Invoker
  let p2pA: ReturnType<typeof createP2pCommands>
  let p2pB: ReturnType<typeof createP2pCommands>

  beforeAll(async () => {
    ;[a, b, server] = await Promise.all([createKuboNode(), createKuboNode(), startServer()])
    await connect(a, b)
    target = `/ip4/127.0.0.1/tcp/${server.port}`
    invokerA = new Invoker(httpTransport({ apiUrl: a.apiUrl }))
    invokerB = new Invoker(httpTransport({ apiUrl: b.apiUrl }))
    p2pA = createP2pCommands(invokerA)
    p2pB = createP2pCommands(invokerB)
  })

  afterAll(async () => {
    await Promise.all([invokerA?.transport.close(), invokerB?.transport.close(), server?.close()])
    await Promise.all([a?.stop(), b?.stop()])
  })

  it('tunnels bytes both ways, reports the peer id, lists tunnels and streams, and closes them', async () => {
    await p2pB.listen('/x/test', target, { reportPeerId: true })
    expect(await p2pB.ls()).toEqual([
      { protocol: '/x/test', listenAddress: `/p2p/${b.peerId}`, targetAddress: target }
    ])

    await p2pA.forward('/x/test', '/ip4/127.0.0.1/tcp/0', `/p2p/${b.peerId}`)
    const [forwarder] = await p2pA.ls()
    expect(forwarder).toEqual({
      protocol: '/x/test',
      listenAddress: expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*$/),
      targetAddress: `/p2p/${b.peerId}`
    })

    const client = await dial(forwarder?.listenAddress ?? '')
    client.socket.write('hello\n')
    await vi.waitFor(() => expect(server.connections[0]?.received).toBe(`${a.peerId}\nhello\n`), {
      timeout: 10_000
    })
    server.connections[0]?.socket.write('world\n')
    await vi.waitFor(() => expect(client.received()).toBe('world\n'), { timeout: 10_000 })

    const streamsA = await p2pA.stream.ls()
    expect(streamsA).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        protocol: '/x/test',
        originAddress: `/ip4/127.0.0.1/tcp/${client.socket.localPort}`,
        targetAddress: `/p2p/${b.peerId}`
      }
    ])
    expect(await p2pB.stream.ls()).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        protocol: '/x/test',
        originAddress: `/p2p/${a.peerId}`,
        targetAddress: target
      }
    ])

    await p2pA.stream.close(streamsA[0]?.id ?? '')
    await client.ended
    expect(await p2pA.stream.ls()).toEqual([])

    // A second connection, closed from the listening side with `all`.
    const second = await dial(forwarder?.listenAddress ?? '')
    second.socket.write('again\n')
    await vi.waitFor(() => expect(server.connections[1]?.received).toBe(`${a.peerId}\nagain\n`), {
      timeout: 10_000
    })
    expect(await p2pB.stream.ls()).toHaveLength(1)
    await p2pB.stream.close({ all: true })
    await second.ended
    await vi.waitFor(async () => expect(await p2pB.stream.ls()).toEqual([]), { timeout: 5_000 })

    expect(await p2pA.close({ protocol: '/x/test' })).toBe(1)
    expect(await p2pA.ls()).toEqual([])
    expect(await p2pB.close({ all: true })).toBe(1)
    expect(await p2pB.ls()).toEqual([])
  })

  it('a foreground listener lives until its handle is closed', async () => {
    const tunnel = await p2pB.listen('/x/foreground', target, { foreground: true })
    expect(tunnel).toMatchObject({
      protocol: '/x/foreground',
      listenAddress: `/p2p/${b.peerId}`,
      targetAddress: target
    })
    expect(await p2pB.ls()).toContainEqual({
      protocol: '/x/foreground',
      listenAddress: `/p2p/${b.peerId}`,
      targetAddress: target
    })

    const statuses = tunnel.status[Symbol.asyncIterator]()
    expect(await statuses.next()).toEqual({
      done: false,
      value: { status: 'active', protocol: '/x/foreground', address: target }
    })

    await tunnel.close()
    expect(await p2pB.ls()).toEqual([])
    expect(await statuses.next()).toEqual({ done: true, value: undefined })
    await tunnel.close()
  })

  it('a foreground forwarder on port 0 reports its real port and is removed at the end of its scope', async () => {
    await p2pB.listen('/x/scoped', target)
    {
      await using tunnel = await p2pA.forward('/x/scoped', '/ip4/127.0.0.1/tcp/0', `/p2p/${b.peerId}`, {
        foreground: true
      })
      expect(tunnel.listenAddress).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*$/)
      expect(tunnel.targetAddress).toBe(`/p2p/${b.peerId}`)
      expect(await p2pA.ls()).toEqual([
        { protocol: '/x/scoped', listenAddress: tunnel.listenAddress, targetAddress: `/p2p/${b.peerId}` }
      ])

      const client = await dial(tunnel.listenAddress)
      client.socket.write('scoped\n')
      await vi.waitFor(
        () => expect(server.connections.some(connection => connection.received === 'scoped\n')).toBe(true),
        { timeout: 10_000 }
      )
      client.socket.destroy()
    }
    expect(await p2pA.ls()).toEqual([])
    expect(await p2pB.close({ protocol: '/x/scoped' })).toBe(1)
  })

  it('the timeout of a foreground tunnel only bounds its opening', async () => {
    const timeout = 300
    const opened = Date.now()
    const tunnel = await p2pB.listen('/x/outlives-timeout', target, { foreground: true, timeout })
    let ended = false
    void tunnel.closed.finally(() => {
      ended = true
    })
    // A sleep that is needed: what is tested is that passing the timeout does nothing, so it must pass
    // (with a margin); what follows then proves the tunnel still works, not only that it is listed.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, opened + timeout + 500 - Date.now())))
    expect(ended).toBe(false)
    expect((await p2pB.ls()).map(listener => listener.protocol)).toEqual(['/x/outlives-timeout'])
    {
      await using forward = await p2pA.forward(
        '/x/outlives-timeout',
        '/ip4/127.0.0.1/tcp/0',
        `/p2p/${b.peerId}`,
        {
          foreground: true
        }
      )
      const client = await dial(forward.listenAddress)
      client.socket.write('after the timeout\n')
      await vi.waitFor(
        () =>
          expect(server.connections.some(connection => connection.received === 'after the timeout\n')).toBe(
            true
          ),
        { timeout: 10_000 }
      )
      client.socket.destroy()
    }
    await tunnel.close()
    expect(await p2pB.ls()).toEqual([])
  })

  it('a foreground tunnel closed with p2p close reports closing and ends', async () => {
    const tunnel = await p2pB.listen('/x/remote-close', target, { foreground: true })
    expect(await p2pB.close({ protocol: '/x/remote-close' })).toBe(1)
    const statuses = []
    for await (const status of tunnel.status) statuses.push(status.status)
    expect(statuses).toEqual(['active', 'closing'])
    await tunnel.closed
    expect(await p2pB.ls()).toEqual([])
  })

  it('aborting the signal of a foreground tunnel removes it', async () => {
    const controller = new AbortController()
    const tunnel = await p2pB.listen('/x/aborted', target, { foreground: true, signal: controller.signal })
    expect((await p2pB.ls()).map(listener => listener.protocol)).toEqual(['/x/aborted'])
    controller.abort()
    await tunnel.closed
    expect(await p2pB.ls()).toEqual([])
  })

  it('accepts a custom protocol name only when allowed', async () => {
    await expect(p2pB.listen('/custom/1.0.0', target)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'protocol'
    })
    await p2pB.listen('/custom/1.0.0', target, { allowCustomProtocol: true })
    expect(await p2pB.ls()).toEqual([
      { protocol: '/custom/1.0.0', listenAddress: `/p2p/${b.peerId}`, targetAddress: target }
    ])
    expect(await p2pB.close({ protocol: '/custom/1.0.0', targetAddress: target })).toBe(1)
  })

  it('surfaces Kubo’s refusal of a protocol that is already served', async () => {
    await p2pB.listen('/x/twice', target)
    await expect(p2pB.listen('/x/twice', target)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'listener already registered'
    })
    await expect(p2pB.listen('/x/twice', target, { foreground: true })).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'listener already registered'
    })
    expect(await p2pB.close({ all: true })).toBe(1)
  })

  it('rejects bad input before any request', async () => {
    await expect(p2pB.listen('x/test', target)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'protocol'
    })
    await expect(p2pB.listen('/x/test', '/ip4/127.0.0.1/tcp/0')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'targetAddress'
    })
    await expect(p2pB.listen('/x/test', '127.0.0.1:80')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'targetAddress'
    })
    await expect(p2pA.forward('/x/test', 'localhost:80', `/p2p/${b.peerId}`)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'listenAddress'
    })
    await expect(
      p2pA.forward('/x/test', '/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/4001')
    ).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'targetAddress'
    })
    await expect(p2pA.close()).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'options' })
    await expect(p2pA.close({ all: true, protocol: '/x/test' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'options'
    })
    await expect(p2pA.stream.close('first')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'id'
    })
  })
})

describe('p2p forwards opened at the same moment', () => {
  let cluster: KuboCluster
  let invoker: Invoker
  let p2p: ReturnType<typeof createP2pCommands>
  const receivers: Array<{ node: KuboNode; server: EchoServer; invoker: Invoker }> = []

  beforeAll(async () => {
    cluster = await createKuboCluster(4)
    const [sender, ...others] = cluster.nodes
    if (sender == null) throw new Error('expected four nodes')
    invoker = new Invoker(httpTransport({ apiUrl: sender.apiUrl }))
    p2p = createP2pCommands(invoker)
    for (const node of others) {
      const server = await startServer()
      const receiverInvoker = new Invoker(httpTransport({ apiUrl: node.apiUrl }))
      // The same protocol on every receiver: only the target address tells the tunnels apart.
      await createP2pCommands(receiverInvoker).listen('/x/same', `/ip4/127.0.0.1/tcp/${server.port}`, {
        reportPeerId: true
      })
      receivers.push({ node, server, invoker: receiverInvoker })
    }
  })

  afterAll(async () => {
    await Promise.all([
      invoker?.transport.close(),
      ...receivers.map(receiver => Promise.all([receiver.invoker.transport.close(), receiver.server.close()]))
    ])
    await cluster?.stop()
  })

  it('port-0 foreground forwards to different peers each get their own port and peer, and closing one leaves the others', async () => {
    const sender = cluster.nodes[0]?.peerId ?? ''
    for (let round = 0; round < 5; round++) {
      const tunnels = await Promise.all(
        receivers.map(receiver =>
          p2p.forward('/x/same', '/ip4/127.0.0.1/tcp/0', `/p2p/${receiver.node.peerId}`, { foreground: true })
        )
      )
      try {
        // Each handle names the peer it was opened for, and a port of its own.
        expect(tunnels.map(tunnel => tunnel.targetAddress)).toEqual(
          receivers.map(receiver => `/p2p/${receiver.node.peerId}`)
        )
        expect(new Set(tunnels.map(tunnel => tunnel.listenAddress)).size).toBe(receivers.length)
        const listed = await p2p.ls()
        for (const tunnel of tunnels) {
          expect(listed).toContainEqual({
            protocol: '/x/same',
            listenAddress: tunnel.listenAddress,
            targetAddress: tunnel.targetAddress
          })
        }
        expect(listed).toHaveLength(receivers.length)

        // Bytes written to a handle's port reach the peer that handle names, and no other.
        await Promise.all(
          tunnels.map(async (tunnel, index) => {
            const client = await dial(tunnel.listenAddress)
            client.socket.write(`round ${round} to ${index}\n`)
            const server = receivers[index]?.server
            await vi.waitFor(
              () =>
                expect(server?.connections.map(connection => connection.received)).toContain(
                  `${sender}\nround ${round} to ${index}\n`
                ),
              { timeout: 10_000 }
            )
            client.socket.destroy()
          })
        )

        // Closing the first removes exactly its tunnel; the others still carry bytes to their peers.
        await tunnels[0]?.close()
        const left = await p2p.ls()
        expect(left.map(listener => listener.listenAddress).sort()).toEqual(
          tunnels
            .slice(1)
            .map(tunnel => tunnel.listenAddress)
            .sort()
        )
        for (const [index, tunnel] of tunnels.entries()) {
          if (index === 0) continue
          const client = await dial(tunnel.listenAddress)
          client.socket.write(`still ${round} ${index}\n`)
          const server = receivers[index]?.server
          await vi.waitFor(
            () =>
              expect(server?.connections.map(connection => connection.received)).toContain(
                `${sender}\nstill ${round} ${index}\n`
              ),
            { timeout: 10_000 }
          )
          client.socket.destroy()
        }
      } finally {
        await Promise.all(tunnels.map(tunnel => tunnel.close()))
      }
      expect(await p2p.ls()).toEqual([])
    }
  })

  it('background port-0 forwards from two clients at once resolve with their own tunnel, and port 0 elsewhere is refused', async () => {
    const sender = cluster.nodes[0]
    const second = new Invoker(httpTransport({ apiUrl: sender?.apiUrl ?? '' }))
    try {
      const clients = [p2p, createP2pCommands(second)]
      const opened = await Promise.all(
        clients.flatMap(client =>
          receivers.map(receiver =>
            client.forward('/x/same', '/ip4/127.0.0.1/tcp/0', `/p2p/${receiver.node.peerId}`)
          )
        )
      )
      const expected = clients.flatMap(() => receivers.map(receiver => `/p2p/${receiver.node.peerId}`))
      expect(opened.map(listener => listener.targetAddress)).toEqual(expected)
      expect(new Set(opened.map(listener => listener.listenAddress)).size).toBe(opened.length)
      expect((await p2p.ls()).sort((x, y) => x.listenAddress.localeCompare(y.listenAddress))).toEqual(
        [...opened].sort((x, y) => x.listenAddress.localeCompare(y.listenAddress))
      )
      for (const [index, listener] of opened.entries()) {
        const client = await dial(listener.listenAddress)
        client.socket.write(`background ${index}\n`)
        const server = receivers[index % receivers.length]?.server
        await vi.waitFor(
          () =>
            expect(server?.connections.map(connection => connection.received)).toContain(
              `${sender?.peerId}\nbackground ${index}\n`
            ),
          { timeout: 10_000 }
        )
        client.socket.destroy()
      }
      expect(await p2p.close({ all: true })).toBe(opened.length)

      await expect(
        p2p.forward('/x/same', '/ip4/127.0.0.1/udp/0', `/p2p/${receivers[0]?.node.peerId}`)
      ).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'listenAddress' })
    } finally {
      await second.transport.close()
    }
  })
})

describe('p2p without stream mounting', () => {
  it('reports Kubo’s refusal', async () => {
    await using node = await createKuboNode({ config: { Experimental: { Libp2pStreamMounting: false } } })
    const invoker = new Invoker(httpTransport({ apiUrl: node.apiUrl }))
    try {
      await expect(createP2pCommands(invoker).ls()).rejects.toMatchObject({
        name: 'KuboRpcError',
        kuboMessage: 'libp2p stream mounting not enabled'
      })
    } finally {
      await invoker.transport.close()
    }
  })
})
