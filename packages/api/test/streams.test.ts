import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { createKuboClient } from '@tk/rpc'
import { createKuboStreamSource } from '@tk/rpc/streams'
import { createKuboCluster, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BackendTransport } from '../src/backend.js'
import { createTunnelFunctions } from '../src/tunnels.js'

/** The streams of one node over HTTP, built as createIpfs builds them, with a short peer-id line deadline. */
function openStreams(node: KuboNode, peerIdLineTimeout: number) {
  const options = { backend: 'http' as const, api: node.apiUrl }
  const transport = new BackendTransport(options)
  const context = { client: createKuboClient({ transport }), transport, options }
  const tunnels = createTunnelFunctions(context)
  const streams = createKuboStreamSource(context.client, { peerIdLineTimeout })
  return {
    streams,
    tunnels,
    close: async (): Promise<void> => {
      await streams.close()
      await transport.close()
    }
  }
}

/** Connects to a local port straight (not through Kubo), sends `bytes`, resolves when the server ends the connection. */
async function rawConnection(port: number, bytes: Uint8Array): Promise<{ closedAfter: number }> {
  const started = Date.now()
  return await new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    socket.on('error', () => {})
    socket.on('close', () => resolve({ closedAfter: Date.now() - started }))
  })
}

describe('Kubo streams against a local process that is not Kubo (http backend)', () => {
  let cluster: KuboCluster
  let a: ReturnType<typeof openStreams>
  let b: ReturnType<typeof openStreams>
  let nodeA: KuboNode
  let nodeB: KuboNode
  const LINE_TIMEOUT = 1_000

  beforeAll(async () => {
    cluster = await createKuboCluster(2)
    ;[nodeA, nodeB] = cluster.nodes as [KuboNode, KuboNode]
    a = openStreams(nodeA, LINE_TIMEOUT)
    b = openStreams(nodeB, LINE_TIMEOUT)
  })

  afterAll(async () => {
    await a?.close()
    await b?.close()
    await cluster?.stop()
  })

  it('a silent connection and one with an over-long first line are dropped; a peer through Kubo keeps working', async () => {
    const protocol = '/x/streams-hostile'
    const handled: string[] = []
    await using _server = await a.streams.serve(protocol, async stream => {
      handled.push(stream.remotePeerId)
      for await (const chunk of stream) {
        await stream.write(chunk)
        break
      }
    })
    const port =
      (await a.tunnels.listTunnels()).listeners.find(listener => listener.protocol === protocol)?.port ?? 0
    expect(port).toBeGreaterThan(0)

    const silent = rawConnection(port, new Uint8Array())
    const overLong = rawConnection(port, new Uint8Array(300).fill(0x41))

    const payload = randomBytes(1000)
    await using stream = await b.streams.open(nodeA.peerId, protocol, { timeout: 30_000 })
    await stream.write(payload)
    const echoed: Buffer[] = []
    for await (const chunk of stream) {
      echoed.push(Buffer.from(chunk))
      if (Buffer.concat(echoed).length >= payload.length) break
    }
    expect(Buffer.concat(echoed).equals(payload)).toBe(true)

    // Dropped within the line deadline (+ 2 s margin), and never handed to the handler.
    expect((await overLong).closedAfter).toBeLessThan(LINE_TIMEOUT + 2_000)
    const { closedAfter } = await silent
    expect(closedAfter).toBeGreaterThanOrEqual(LINE_TIMEOUT - 50)
    expect(closedAfter).toBeLessThan(LINE_TIMEOUT + 2_000)
    expect(handled).toEqual([nodeB.peerId])
  })

  it('server.close() resolves while a stream is open, and that stream goes on; new streams are refused', async () => {
    const protocol = '/x/streams-close'
    const server = await a.streams.serve(protocol, async stream => {
      for await (const chunk of stream) await stream.write(chunk)
    })
    await using stream = await b.streams.open(nodeA.peerId, protocol, { timeout: 30_000 })
    const echo = async (text: string): Promise<string> => {
      await stream.write(new TextEncoder().encode(text))
      for await (const chunk of stream) return new TextDecoder().decode(chunk)
      return ''
    }
    expect(await echo('before')).toBe('before')

    const started = Date.now()
    await server.close()
    expect(Date.now() - started).toBeLessThan(5_000)
    expect((await a.tunnels.listTunnels()).listeners).toEqual([])
    expect(await echo('after')).toBe('after')

    // Nothing serves the protocol now: Kubo ends a new stream without data.
    await using refused = await b.streams.open(nodeA.peerId, protocol, { timeout: 30_000 })
    const received: Uint8Array[] = []
    for await (const chunk of refused) received.push(chunk)
    expect(received).toEqual([])
  })
})

describe('a process that aborts a Kubo stream exits by itself', () => {
  let cluster: KuboCluster
  const fixture = fileURLToPath(new URL('./fixtures/abort-then-exit.mjs', import.meta.url))

  beforeAll(async () => {
    cluster = await createKuboCluster(2)
  })

  afterAll(async () => {
    await cluster?.stop()
  })

  /** Runs the fixture; resolves with its exit code and output, or with code null if it is still running after `limit` ms. */
  async function runFixture(
    when: string,
    limit: number
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const [a, b] = cluster.nodes as [KuboNode, KuboNode]
    return await new Promise(resolve => {
      const child = execFile(
        process.execPath,
        [fixture, a.apiUrl, b.peerId, `/x/nobody-${randomBytes(3).toString('hex')}`, when],
        { timeout: limit, killSignal: 'SIGKILL' },
        (error, stdout, stderr) =>
          resolve({ code: error == null ? 0 : child.killed ? null : (child.exitCode ?? 1), stdout, stderr })
      )
    })
  }

  // The peer serves nothing under the protocol, so Kubo ends the connection: our end is shut down
  // (Node ends a socket after the peer's end) before abort(). A reset then made Node 22 and 26
  // spin for ever in their exit cleanup: seen as `tk-demo send` to a name nobody listens under
  // printing its advice and never exiting.
  it.each(['after-end', 'at-once'])(
    'abort() %s: the process prints its line and exits 0 within 15 s',
    async when => {
      const { code, stdout, stderr } = await runFixture(when, 15_000)
      expect(stdout, stderr).toBe(`aborted ${when}, received 0\n`)
      expect(code).toBe(0)
    }
  )
})
