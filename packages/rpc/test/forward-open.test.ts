import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import type net from 'node:net'
import { createKuboCluster, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKuboClient } from '../src/client.js'
import { createKuboStreamSource } from '../src/streams.js'
import { eventually, sha256 } from './helpers.js'

/** The opening deadline the tests give the stream source (ms), short so the tests are quick. */
const OPEN_TIMEOUT = 2_000
/**
 * The deadline on real Kubo (ms): long enough that Kubo, which answers a forward in milliseconds,
 * has surely opened it (and answered) before we give up, even on a loaded CI machine.
 */
const KUBO_OPEN_TIMEOUT = 5_000
/** Room for a loaded machine on top of a deadline (ms); far below what the callers' own timeouts allow. */
const MARGIN = 2_500
/** The callers' own timeout (ms): without the opening's deadline, this is what they would hit. */
const CALLER_TIMEOUT = 20_000

/**
 * An HTTP server in front of a Kubo API (or of nothing). A stub of a collaborator, the network
 * between client and daemon, not of Kubo: requests are passed through to `upstream` as they are,
 * except the `p2p/forward` requests `hold` picks, whose answer is never passed back (the request
 * still reaches Kubo when there is an upstream; without one, nobody ever answers). It records
 * those held requests and when the client gave each up (its connection closed).
 */
async function startApiStub(upstream: string | undefined, hold: (forwardNumber: number) => boolean) {
  const held: Array<{ url: string; closed: Promise<void>; answered: boolean }> = []
  const sockets = new Set<net.Socket>()
  let forwards = 0
  const server = http.createServer((request, response) => {
    const isForward = request.url?.startsWith('/api/v0/p2p/forward') === true
    const holding = isForward && hold(++forwards)
    const entry = holding
      ? {
          url: request.url ?? '',
          closed: new Promise<void>(resolve => response.once('close', () => resolve())),
          answered: false
        }
      : undefined
    if (entry != null) held.push(entry)
    if (upstream == null) return // never answers
    const relayed = http.request(new URL(request.url ?? '/', upstream), {
      method: request.method,
      headers: request.headers
    })
    relayed.on('error', () => response.destroy())
    // The client giving up ends the relayed request too, as a real connection's end would.
    response.once('close', () => relayed.destroy())
    relayed.on('response', answer => {
      if (entry != null) {
        // Kubo's first status line: it has opened the tunnel.
        answer.once('data', () => {
          entry.answered = true
        })
        answer.resume()
        return
      }
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    request.pipe(relayed)
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    apiUrl: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    held,
    forwards: () => forwards,
    close: async (): Promise<void> => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

async function timed<T>(promise: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now()
  try {
    await promise
    return { error: undefined, ms: Date.now() - started }
  } catch (error) {
    return { error, ms: Date.now() - started }
  }
}

const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

describe('opening a forward tunnel has a deadline', () => {
  it('a daemon that never answers: every waiting caller gets RpcTimeoutError at the deadline, the request is aborted, and the next call asks again', async () => {
    const stub = await startApiStub(undefined, () => true)
    const client = createKuboClient({ apiUrl: stub.apiUrl })
    const streams = createKuboStreamSource(client, { forwardOpenTimeout: OPEN_TIMEOUT })
    try {
      // Three callers to the same peer and protocol share one opening.
      const callers = await Promise.all(
        [1, 2, 3].map(() => timed(streams.open(PEER, '/x/never', { timeout: CALLER_TIMEOUT })))
      )
      expect(stub.forwards()).toBe(1)
      for (const { error, ms } of callers) {
        expect((error as Error).name).toBe('RpcTimeoutError')
        expect(error).toMatchObject({ command: 'p2p/forward', timeout: OPEN_TIMEOUT })
        expect(ms).toBeGreaterThanOrEqual(OPEN_TIMEOUT - 100)
        expect(ms).toBeLessThan(OPEN_TIMEOUT + MARGIN)
      }
      // The request itself was given up: its connection closed.
      await stub.held[0]?.closed

      // The next call does not join the failed opening: it asks Kubo again.
      const next = await timed(streams.open(PEER, '/x/never', { timeout: CALLER_TIMEOUT }))
      expect(stub.forwards()).toBe(2)
      expect((next.error as Error).name).toBe('RpcTimeoutError')
      expect(next.ms).toBeLessThan(OPEN_TIMEOUT + MARGIN)
      await stub.held[1]?.closed
    } finally {
      await streams.close()
      await client.close()
      await stub.close()
    }
  })

  describe('on real Kubo nodes', () => {
    let cluster: KuboCluster
    let a: KuboNode
    let b: KuboNode

    beforeAll(async () => {
      cluster = await createKuboCluster(2)
      ;[a, b] = cluster.nodes as [KuboNode, KuboNode]
    })

    afterAll(async () => {
      await cluster?.stop()
    })

    it('after an opening whose answer was lost, nothing of it stays in p2p ls and a normal open to the same peer works', async () => {
      const protocol = '/x/forward-after-failure'
      const clientB = createKuboClient({ apiUrl: b.apiUrl })
      const streamsB = createKuboStreamSource(clientB)
      // A's first forward reaches Kubo (which opens it) but its answer never comes back.
      const stub = await startApiStub(a.apiUrl, number => number === 1)
      const clientA = createKuboClient({ apiUrl: stub.apiUrl })
      const direct = createKuboClient({ apiUrl: a.apiUrl })
      const streamsA = createKuboStreamSource(clientA, { forwardOpenTimeout: KUBO_OPEN_TIMEOUT })
      try {
        await using _server = await streamsB.serve(protocol, async stream => {
          const received: Buffer[] = []
          for await (const chunk of stream) {
            received.push(Buffer.from(chunk))
            if (Buffer.concat(received).length >= 4096) break
          }
          await stream.write(
            new TextEncoder().encode(`${stream.remotePeerId} ${sha256(Buffer.concat(received))}\n`)
          )
          await stream.close()
        })

        const failed = await timed(streamsA.open(b.peerId, protocol, { timeout: CALLER_TIMEOUT }))
        expect((failed.error as Error).name).toBe('RpcTimeoutError')
        expect(failed.ms).toBeLessThan(KUBO_OPEN_TIMEOUT + MARGIN)
        await stub.held[0]?.closed
        expect(stub.held[0]?.answered).toBe(true)
        const heldPort = /arg=%2Fip4%2F127\.0\.0\.1%2Ftcp%2F(\d+)/.exec(stub.held[0]?.url ?? '')?.[1]
        expect(Number(heldPort)).toBeGreaterThan(0)
        // Kubo had opened it; now it is gone (removed once the request ended).
        const listed = await eventually(
          () => direct.p2p.ls(),
          listeners => listeners.every(listener => listener.protocol !== protocol)
        )
        expect(listed.filter(listener => listener.protocol === protocol)).toEqual([])

        const payload = randomBytes(4096)
        await using stream = await streamsA.open(b.peerId, protocol, { timeout: CALLER_TIMEOUT })
        expect(stub.forwards()).toBe(2)
        await stream.write(payload)
        const answer: Buffer[] = []
        for await (const chunk of stream) {
          answer.push(Buffer.from(chunk))
          if (Buffer.concat(answer).includes('\n')) break
        }
        expect(Buffer.concat(answer).toString()).toBe(`${a.peerId} ${sha256(payload)}\n`)
      } finally {
        await streamsA.close()
        await streamsB.close()
        await Promise.all([clientA.close(), clientB.close()])
        await stub.close()
        // Closing the sources removed every tunnel they had.
        expect((await direct.p2p.ls()).filter(listener => listener.protocol === protocol)).toEqual([])
        await direct.close()
      }
    })
  })
})
