import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import net, { type Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { P2pForegroundTunnel } from '@tk/rpc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Conversation,
  listenForConversations,
  startConversation,
  transmitData,
  transmitFile
} from '../src/index.js'
import { type IpfsToolkitPy, ipfsToolkitPy } from '../src/python/index.js'
import { type Pair, startPair } from './helpers.js'

// Every public sending call, with a short `timeout`, against a peer that never answers: it
// settles within the timeout plus a margin, and with the same error each time, a DOMException
// named `TimeoutError` (what `AbortSignal.timeout` aborts with, as fetch does).
const TIMEOUT = 2_500
/** Room for the event loop on a machine shared with other daemons; far below the 30 s idle timeout. */
const MARGIN = 2_500

/** A raw TCP service behind `p2p listen` on B: Kubo carries streams to it, and it does what `behave` says. */
interface Silent {
  protocol: string
  sockets: Set<Socket>
  close(): Promise<void>
}

async function silentListener(pair: Pair, name: string, behave: (socket: Socket) => void): Promise<Silent> {
  const sockets = new Set<Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('error', () => {
      // Kubo resets the stream when the sender gives up; nothing to do here.
    })
    socket.once('close', () => sockets.delete(socket))
    behave(socket)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const tunnel: P2pForegroundTunnel = await pair.b.ipfs.client.p2p.listen(
    `/x/${name}`,
    `/ip4/127.0.0.1/tcp/${port}`,
    { foreground: true, reportPeerId: true }
  )
  return {
    protocol: `/x/${name}`,
    sockets,
    close: async () => {
      await tunnel.close()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

/** Reads everything, answers nothing. */
const readsNeverAnswers = (socket: Socket): void => {
  socket.resume()
}

/**
 * Reads the peer-id line, the preamble and `open`, answers `accept`, then answers nothing more;
 * with `stopReading`, it also reads nothing more, so the sender's writes back up.
 */
function acceptor({ stopReading }: { stopReading: boolean }): (socket: Socket) => void {
  return socket => {
    let buffered = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const newline = buffered.indexOf(0x0a)
      // peer id line, 5-byte preamble, then the open frame's 5-byte header and payload
      if (newline < 0 || buffered.byteLength < newline + 1 + 5 + 5) return
      const length = buffered.readUInt32BE(newline + 1 + 5 + 1)
      if (buffered.byteLength < newline + 1 + 5 + 5 + length) return
      const body = Buffer.from(JSON.stringify({ maxFrame: 64 * 1024 * 1024 }))
      const header = Buffer.alloc(5)
      header[0] = 0x02
      header.writeUInt32BE(body.byteLength, 1)
      socket.write(Buffer.concat([header, body]))
      socket.off('data', onData)
      if (stopReading) socket.pause()
      else socket.resume()
    }
    socket.on('data', onData)
  }
}

const acceptsThenSilent = acceptor({ stopReading: false })
const acceptsThenStopsReading = acceptor({ stopReading: true })

/**
 * Runs `call`, which must reject within `timeout` plus the margin, with one of `names` (by
 * default only `TimeoutError`: the peer kept the stream open and said nothing).
 */
async function settlesInTime(
  call: () => Promise<unknown>,
  timeout = TIMEOUT,
  names: readonly string[] = ['TimeoutError']
): Promise<Error> {
  const started = Date.now()
  const error = await call().then(
    () => new Error('resolved, but the peer never answered'),
    (caught: unknown) => caught as Error
  )
  const took = Date.now() - started
  expect({ name: error.name, message: error.message, tookLessThanDeadline: took < timeout + MARGIN }).toEqual(
    {
      name: expect.toSatisfy((name: string) => names.includes(name)),
      message: expect.any(String),
      tookLessThanDeadline: true
    }
  )
  if (error.name === 'TimeoutError') expect(took).toBeGreaterThanOrEqual(timeout - 100)
  return error
}

/**
 * A peer nobody can reach: Kubo either gives up at once (no address known: `StreamClosedError`)
 * or keeps dialling (for up to 30 s), and then the caller's timeout ends the call.
 */
const UNREACHABLE = ['TimeoutError', 'StreamClosedError'] as const

let pair: Pair
let tmp: string
let smallFile: string
const silent: Silent[] = []
/** The Python IPFS-Toolkit's format on each node. */
let pyA: IpfsToolkitPy
let pyB: IpfsToolkitPy

beforeAll(async () => {
  ;[pair, tmp] = await Promise.all([startPair(), fs.mkdtemp(path.join(os.tmpdir(), 'tk-deadlines-'))])
  pyA = ipfsToolkitPy({ client: pair.a.ipfs.client })
  pyB = ipfsToolkitPy({ client: pair.b.ipfs.client })
  smallFile = path.join(tmp, 'small.bin')
  await fs.writeFile(smallFile, randomBytes(10_000))
  silent.push(
    await silentListener(pair, 'never', readsNeverAnswers),
    await silentListener(pair, 'accepts', acceptsThenSilent),
    await silentListener(pair, 'stuck', acceptsThenStopsReading)
  )
})

afterAll(async () => {
  for (const listener of silent) await listener.close()
  await pyA?.close()
  await pyB?.close()
  await pair?.stop()
  await fs.rm(tmp, { recursive: true, force: true })
})

describe('deadlines: a peer that never answers', () => {
  it.each([
    ['1 KiB (sent with open)', 1024],
    ['20 KiB (sent with open, beyond the socket high-water mark)', 20 * 1024],
    ['1 MiB (waits for accept)', 1024 * 1024]
  ])('transmitData of %s settles within its timeout with TimeoutError', async (_, size) => {
    await settlesInTime(() =>
      transmitData(randomBytes(size), pair.b.node.peerId, 'never', { ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
  })

  it('transmitData to a listener that accepts and never says done', async () => {
    await settlesInTime(() =>
      transmitData(randomBytes(100), pair.b.node.peerId, 'accepts', { ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
  })

  it('transmitFile settles within its timeout, waiting for accept and waiting for done', async () => {
    await settlesInTime(() =>
      transmitFile(smallFile, pair.b.node.peerId, 'never', { ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
    await settlesInTime(() =>
      transmitFile(smallFile, pair.b.node.peerId, 'accepts', { ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
  })

  it('startConversation settles within its timeout', async () => {
    await settlesInTime(() =>
      startConversation('hello?', pair.b.node.peerId, 'never', { ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
  })

  describe('in a conversation the peer accepted and then went silent', () => {
    let conversation: Conversation
    beforeAll(async () => {
      conversation = await startConversation('quiet', pair.b.node.peerId, 'accepts', {
        ipfs: pair.a.ipfs,
        timeout: TIMEOUT
      })
    })
    afterAll(async () => {
      await conversation?.close()
    })

    it('say() settles within its timeout (no messageAck)', async () => {
      await settlesInTime(() => conversation.say('anyone?', { timeout: TIMEOUT }))
    })

    it('transmitFile() settles within its timeout (no fileDone)', async () => {
      await settlesInTime(() => conversation.transmitFile(smallFile, { timeout: TIMEOUT }))
    })

    it('listen() and listenForFile() settle within theirs', async () => {
      await settlesInTime(() => conversation.listen({ timeout: TIMEOUT }))
      await settlesInTime(() => conversation.listenForFile({ timeout: TIMEOUT }))
    })
  })

  it('say() and transmitFile() settle within their timeout when the peer stops reading (writes back up)', async () => {
    await using conversation = await startConversation('stuck', pair.b.node.peerId, 'stuck', {
      ipfs: pair.a.ipfs,
      timeout: TIMEOUT
    })
    const big = path.join(tmp, 'big.bin')
    await fs.writeFile(big, randomBytes(32 * 1024 * 1024))
    await settlesInTime(() => conversation.say(new Uint8Array(16 * 1024 * 1024), { timeout: TIMEOUT }))
    await settlesInTime(() => conversation.transmitFile(big, { timeout: TIMEOUT }))
  })

  it('a peer that does not exist: transmitData, transmitFile and startConversation settle within their timeout', async () => {
    // A valid peer id no node has: Kubo's dial through the forward would take 30 s to give up.
    const nobody = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
    await settlesInTime(
      () => transmitData('x', nobody, 'inbox', { ipfs: pair.a.ipfs, timeout: TIMEOUT }),
      TIMEOUT,
      UNREACHABLE
    )
    await settlesInTime(
      () => transmitFile(smallFile, nobody, 'files', { ipfs: pair.a.ipfs, timeout: TIMEOUT }),
      TIMEOUT,
      UNREACHABLE
    )
    await settlesInTime(
      () => startConversation('x', nobody, 'chat', { ipfs: pair.a.ipfs, timeout: TIMEOUT }),
      TIMEOUT,
      UNREACHABLE
    )
  })
})

describe('deadlines: with the garbage collector running during the call', () => {
  // On Node 20 `AbortSignal.any([signal, AbortSignal.timeout(ms)])` lets the timeout signal be
  // collected before it fires; a collection during the call must not cancel the deadline.
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void

  async function whileCollecting<T>(call: () => Promise<T>): Promise<T> {
    const timer = setInterval(gc, 100)
    try {
      return await call()
    } finally {
      clearInterval(timer)
    }
  }

  it('transmitData, transmitFile, startConversation and say still time out', async () => {
    await whileCollecting(() =>
      settlesInTime(() =>
        transmitData(randomBytes(1024 * 1024), pair.b.node.peerId, 'never', {
          ipfs: pair.a.ipfs,
          timeout: TIMEOUT
        })
      )
    )
    await whileCollecting(() =>
      settlesInTime(() =>
        transmitFile(smallFile, pair.b.node.peerId, 'accepts', { ipfs: pair.a.ipfs, timeout: TIMEOUT })
      )
    )
    await whileCollecting(() =>
      settlesInTime(() =>
        startConversation('x', pair.b.node.peerId, 'never', { ipfs: pair.a.ipfs, timeout: TIMEOUT })
      )
    )
    await using conversation = await startConversation('gc', pair.b.node.peerId, 'accepts', {
      ipfs: pair.a.ipfs,
      timeout: TIMEOUT
    })
    await whileCollecting(() => settlesInTime(() => conversation.say('anyone?', { timeout: TIMEOUT })))
  })

  it('the Python protocol’s transmitData and startConversation still time out', async () => {
    const python = { wire: pyA }
    await whileCollecting(() =>
      settlesInTime(() =>
        transmitData('hi', pair.b.node.peerId, 'never', { ...python, ipfs: pair.a.ipfs, timeout: TIMEOUT })
      )
    )
    await whileCollecting(() =>
      settlesInTime(() =>
        startConversation('x', pair.b.node.peerId, 'never', {
          ...python,
          ipfs: pair.a.ipfs,
          timeout: TIMEOUT
        })
      )
    )
  })
})

describe('deadlines: the Python protocol', () => {
  const python = {
    get wire() {
      return pyA
    }
  }

  it('transmitData, transmitFile and startConversation settle within their timeout against a silent listener', async () => {
    await settlesInTime(() =>
      transmitData('hi', pair.b.node.peerId, 'never', { ...python, ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
    await settlesInTime(() =>
      transmitFile(smallFile, pair.b.node.peerId, 'never', { ...python, ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
    await settlesInTime(() =>
      startConversation('x', pair.b.node.peerId, 'never', { ...python, ipfs: pair.a.ipfs, timeout: TIMEOUT })
    )
  })

  it('startConversation settles within its timeout when the listener took the request and its handler failed', async () => {
    const failures: Error[] = []
    await using _listener = await listenForConversations(
      'py-broken',
      () => {
        throw new Error('the handler broke')
      },
      { ipfs: pair.b.ipfs, wire: pyB, onError: error => void failures.push(error) }
    )
    await settlesInTime(
      () =>
        startConversation('x', pair.b.node.peerId, 'py-broken', {
          ...python,
          ipfs: pair.a.ipfs,
          timeout: 6_000
        }),
      6_000
    )
    expect(failures.map(error => error.message)).toContain('the handler broke')
  })

  it('a peer that does not exist: the Python-protocol calls settle within their timeout', async () => {
    const nobody = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
    await settlesInTime(
      () => transmitData('x', nobody, 'inbox', { ...python, ipfs: pair.a.ipfs, timeout: TIMEOUT }),
      TIMEOUT,
      UNREACHABLE
    )
    await settlesInTime(
      () => startConversation('x', nobody, 'chat', { ...python, ipfs: pair.a.ipfs, timeout: TIMEOUT }),
      TIMEOUT,
      UNREACHABLE
    )
  })
})
