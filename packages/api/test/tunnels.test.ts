import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { createKuboClient, type KuboClient } from '@tk/rpc'
import { createKuboCluster, createKuboNode, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { BackendTransport } from '../src/backend.js'
import type { IpfsOptions } from '../src/options.js'
import { createTunnelFunctions } from '../src/tunnels.js'

type Backend = 'http' | 'cli'

/** The tunnel functions on one node, built as `createIpfs` builds its groups, plus the client for read-backs. */
interface TunnelInstance extends ReturnType<typeof createTunnelFunctions>, AsyncDisposable {
  client: KuboClient
  close(): Promise<void>
}

function open(node: KuboNode, backend: Backend): TunnelInstance {
  const options: IpfsOptions =
    backend === 'http'
      ? { backend: 'http', api: node.apiUrl }
      : { backend: 'cli', binary: node.binary, repoPath: node.repoPath, api: node.apiMultiaddr }
  const transport = new BackendTransport(options)
  const client = createKuboClient({ transport })
  const close = async (): Promise<void> => await transport.close()
  return {
    ...createTunnelFunctions({ client, transport, options }),
    client,
    close,
    [Symbol.asyncDispose]: close
  }
}

/** A TCP service on 127.0.0.1 that keeps what each connection sends. */
interface Server {
  port: number
  received: Buffer[][]
  close(): Promise<void>
}

async function startServer(): Promise<Server> {
  const received: Buffer[][] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    const chunks: Buffer[] = []
    received.push(chunks)
    sockets.add(socket)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {
      // The tunnel resets connections when a stream closes; what arrived is all the test reads.
    })
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

async function dial(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {
    // Kubo tears the connection down when the stream ends; the test checks what the server got.
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex')

let cluster: KuboCluster
let a: KuboNode
let b: KuboNode
let disabled: KuboNode
let server: Server

beforeAll(async () => {
  ;[cluster, disabled, server] = await Promise.all([
    createKuboCluster(2),
    createKuboNode({ config: { Experimental: { Libp2pStreamMounting: false } } }),
    startServer()
  ])
  ;[a, b] = cluster.nodes as [KuboNode, KuboNode]
})

afterAll(async () => {
  await Promise.all([cluster?.stop(), disabled?.stop(), server?.close()])
})

describe.each<[Backend]>([['http'], ['cli']])('tunnels over %s', backend => {
  let tunnelsA: TunnelInstance
  let tunnelsB: TunnelInstance

  beforeAll(() => {
    tunnelsA = open(a, backend)
    tunnelsB = open(b, backend)
  })

  afterAll(async () => {
    await Promise.all([tunnelsA?.close(), tunnelsB?.close()])
  })

  it('carries 1 MiB from a sender on A to a listener on B and lists both ends', async () => {
    const name = `bulk-${backend}`
    const listener = await tunnelsB.openListener(name, server.port)
    expect(listener).toEqual({
      protocol: `/x/${name}`,
      listenAddress: `/p2p/${b.peerId}`,
      targetAddress: `/ip4/127.0.0.1/tcp/${server.port}`,
      port: server.port
    })
    const sender = await tunnelsA.openSender(`/x/${name}`, 0, b.peerId)
    expect(sender).toEqual({
      protocol: `/x/${name}`,
      listenAddress: `/ip4/127.0.0.1/tcp/${sender.port}`,
      targetAddress: `/p2p/${b.peerId}`,
      peerId: b.peerId,
      port: expect.any(Number)
    })
    expect(sender.port).toBeGreaterThan(0)
    expect(await tunnelsA.listTunnels()).toEqual({ listeners: [], senders: [sender] })
    expect(await tunnelsB.listTunnels()).toEqual({ listeners: [listener], senders: [] })

    const payload = randomBytes(1024 * 1024)
    const connectionIndex = server.received.length
    const socket = await dial(sender.port)
    socket.write(payload)
    await vi.waitFor(
      () => expect(Buffer.concat(server.received[connectionIndex] ?? []).length).toBe(payload.length),
      { timeout: 30_000, interval: 50 }
    )
    // No peer id was asked for, so the bytes arrive exactly as written.
    expect(sha256(Buffer.concat(server.received[connectionIndex] ?? []))).toBe(sha256(payload))
    socket.destroy()

    expect(await tunnelsA.closeSender(name)).toBe(1)
    expect(await tunnelsB.closeListener(name)).toBe(1)
    expect(await tunnelsA.client.p2p.ls()).toEqual([])
    expect(await tunnelsB.client.p2p.ls()).toEqual([])
  })

  it('reportPeerId puts the sending peer id on the first line', async () => {
    const name = `who-${backend}`
    await tunnelsB.openListener(name, server.port, { reportPeerId: true })
    const sender = await tunnelsA.openSender(name, 0, b.peerId)
    const connectionIndex = server.received.length
    const socket = await dial(sender.port)
    socket.write('hello\n')
    await vi.waitFor(
      () =>
        expect(Buffer.concat(server.received[connectionIndex] ?? []).toString()).toBe(`${a.peerId}\nhello\n`),
      { timeout: 15_000 }
    )
    socket.destroy()
    expect(await tunnelsA.closeSender(name)).toBe(1)
    expect(await tunnelsB.closeListener(name)).toBe(1)
  })

  it('closes only the tunnel it names and leaves the others', async () => {
    const [one, two, multi] = ['one', 'two', 'multi'].map(word => `${word}-${backend}`) as [
      string,
      string,
      string
    ]
    const secondPort = server.port === 65_535 ? server.port - 1 : server.port + 1

    // On B: two listeners and a sender that shares the first listener's name.
    await tunnelsB.openListener(one, server.port)
    await tunnelsB.openListener(`/x/${two}`, secondPort)
    const senderOnB = await tunnelsB.openSender(one, 0, a.peerId)
    // On A: two senders of one name on different ports.
    const first = await tunnelsA.openSender(multi, 0, b.peerId)
    const second = await tunnelsA.openSender(multi, 0, b.peerId)
    expect(first.port).not.toBe(second.port)
    expect((await tunnelsA.listTunnels()).senders).toEqual(
      [first, second].sort((x, y) => x.listenAddress.localeCompare(y.listenAddress))
    )

    expect(await tunnelsB.closeListener(`/x/${one}`)).toBe(1)
    expect(await tunnelsB.listTunnels()).toEqual({
      listeners: [
        {
          protocol: `/x/${two}`,
          listenAddress: `/p2p/${b.peerId}`,
          targetAddress: `/ip4/127.0.0.1/tcp/${secondPort}`,
          port: secondPort
        }
      ],
      senders: [senderOnB]
    })
    // Filters that match nothing close nothing.
    expect(await tunnelsB.closeListener(two, { port: server.port })).toBe(0)
    expect(await tunnelsB.closeListener(one)).toBe(0)
    expect(await tunnelsA.closeSender(multi, { peerId: a.peerId })).toBe(0)
    expect((await tunnelsB.listTunnels()).listeners).toHaveLength(1)

    expect(await tunnelsA.closeSender(multi, { port: first.port })).toBe(1)
    expect((await tunnelsA.listTunnels()).senders).toEqual([second])

    expect(await tunnelsA.closeSender(multi, { peerId: b.peerId })).toBe(1)
    expect(await tunnelsB.closeListener(two, { port: secondPort })).toBe(1)
    expect(await tunnelsB.closeSender(one)).toBe(1)
    expect(await tunnelsA.client.p2p.ls()).toEqual([])
    expect(await tunnelsB.client.p2p.ls()).toEqual([])
  })

  it('senders opened at the same moment by two instances each get a port of their own', async () => {
    const name = `same-moment-${backend}`
    await using other = open(a, backend)
    const opened = await Promise.all(
      [tunnelsA, other, tunnelsA, other, tunnelsA, other].map(instance =>
        instance.openSender(name, 0, b.peerId)
      )
    )
    expect(new Set(opened.map(sender => sender.port)).size).toBe(opened.length)
    for (const sender of opened) {
      expect(sender).toMatchObject({
        protocol: `/x/${name}`,
        peerId: b.peerId,
        targetAddress: `/p2p/${b.peerId}`
      })
      expect(sender.listenAddress).toBe(`/ip4/127.0.0.1/tcp/${sender.port}`)
    }
    expect((await tunnelsA.listTunnels()).senders).toEqual(
      [...opened].sort((x, y) => x.listenAddress.localeCompare(y.listenAddress))
    )
    // Closing one by its port leaves exactly the others.
    expect(await tunnelsA.closeSender(name, { port: opened[0]?.port })).toBe(1)
    expect((await tunnelsA.listTunnels()).senders.map(sender => sender.port).sort()).toEqual(
      opened
        .slice(1)
        .map(sender => sender.port)
        .sort()
    )
    expect(await tunnelsA.closeSender(name)).toBe(opened.length - 1)
    expect(await tunnelsA.client.p2p.ls()).toEqual([])
  })

  it('reports stream mounting off, refuses tunnels with StreamMountingDisabledError, and turns it on', async () => {
    await using tunnels = open(disabled, backend)
    // The other backend's run turned it on; start from off again.
    await tunnels.client.config('Experimental.Libp2pStreamMounting', false)

    const off = await tunnels.checkStreamMounting()
    expect(off).toEqual({ enabled: false, changed: false, howToEnable: expect.any(String) })
    expect(off.howToEnable).toContain('ipfs config --json Experimental.Libp2pStreamMounting true')
    await expect(tunnels.openListener('refused', server.port)).rejects.toMatchObject({
      name: 'StreamMountingDisabledError',
      cause: expect.objectContaining({ message: expect.stringContaining('stream mounting not enabled') })
    })
    await expect(tunnels.listTunnels()).rejects.toMatchObject({ name: 'StreamMountingDisabledError' })

    expect(await tunnels.checkStreamMounting({ enable: true })).toEqual({ enabled: true, changed: true })
    expect(await tunnels.client.config('Experimental.Libp2pStreamMounting')).toBe(true)
    // Kubo reads the setting per call: the running daemon serves tunnels at once.
    expect(await tunnels.listTunnels()).toEqual({ listeners: [], senders: [] })
    expect(await tunnels.checkStreamMounting({ enable: true })).toEqual({ enabled: true, changed: false })
    expect(await tunnelsA.checkStreamMounting()).toEqual({ enabled: true, changed: false })
  })

  it('rejects bad names, ports, hosts and peer ids before asking Kubo', async () => {
    const argument = async (promise: Promise<unknown>): Promise<string> => {
      const error = (await promise.then(
        () => undefined,
        (failure: unknown) => failure
      )) as { name?: string; argument?: string } | undefined
      expect(error?.name).toBe('InvalidArgumentError')
      return error?.argument ?? ''
    }
    expect(await argument(tunnelsB.openListener('', server.port))).toBe('name')
    expect(await argument(tunnelsB.openListener('/x/', server.port))).toBe('name')
    expect(await argument(tunnelsB.openListener('/ipfs/bitswap', server.port))).toBe('name')
    expect(await argument(tunnelsB.openListener('two words', server.port))).toBe('name')
    expect(await argument(tunnelsB.openListener('ok', 0))).toBe('port')
    expect(await argument(tunnelsB.openListener('ok', 70_000))).toBe('port')
    expect(await argument(tunnelsB.openListener('ok', 1.5))).toBe('port')
    expect(await argument(tunnelsB.openListener('ok', server.port, { host: 'localhost' }))).toBe('host')
    expect(await argument(tunnelsA.openSender('ok', -1, b.peerId))).toBe('port')
    expect(await argument(tunnelsA.openSender('ok', 0, 'not-a-peer'))).toBe('peerId')
    expect(await argument(tunnelsA.closeSender('ok', { peerId: 'not-a-peer' }))).toBe('peerId')
    expect(await argument(tunnelsA.closeListener('ok', { port: 0 }))).toBe('port')
    expect(await argument(tunnelsA.closeSender('/p2p/x'))).toBe('name')
    expect(await tunnelsA.client.p2p.ls()).toEqual([])
    expect(await tunnelsB.client.p2p.ls()).toEqual([])
  })
})
