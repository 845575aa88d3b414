import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { CallTimeoutError, type Ipfs } from '@tk/interface'
import { RpcTimeoutError } from '@tk/rpc'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openIpfs } from '../src/index.js'
import { openApi } from './content-helpers.js'

/** The call's own timeout (ms); short, so a call that ignores it shows. */
const TIMEOUT = 1_000
/** How much later than its timeout a call may settle (ms): process start-up of the CLI backend on a loaded machine. */
const MARGIN = 4_000

/** A TCP server that accepts connections and never says a word: a silent peer. */
async function silentServer() {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    // Read and drop what the dialler sends, so a reset or close is noticed.
    socket.on('data', () => {})
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    port,
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

/** Runs `call`, which must time out: resolves with its error and how long it took to settle. */
async function timedOut(call: () => Promise<unknown>): Promise<{ error: unknown; took: number }> {
  const started = Date.now()
  try {
    await call()
  } catch (error) {
    return { error, took: Date.now() - started }
  }
  throw new Error('the call succeeded; it was expected to time out')
}

const MODES = ['kubo over HTTP', 'kubo over the CLI', 'embedded'] as const

describe('a call with `timeout` throws CallTimeoutError in every mode (one catchable type)', () => {
  let kubo: KuboNode

  beforeAll(async () => {
    // Connected to nobody: nothing it is asked for can arrive.
    kubo = await createKuboNode()
  })

  afterAll(async () => {
    await kubo?.stop()
  })

  async function open(mode: (typeof MODES)[number]): Promise<Ipfs> {
    if (mode === 'embedded') return await openIpfs({ mode: 'embedded' })
    return openApi(kubo, mode === 'kubo over HTTP' ? 'http' : 'cli')
  }

  it.each(MODES)('%s: content.read of a CID nobody has', async mode => {
    await using ipfs = await open(mode)
    const cid = await ipfs.content.predictCid(randomBytes(64))
    const { error, took } = await timedOut(() => ipfs.content.read(cid, { timeout: TIMEOUT }))
    expect(error).toBeInstanceOf(CallTimeoutError)
    expect((error as CallTimeoutError).timeout).toBe(TIMEOUT)
    expect((error as CallTimeoutError).isRetryable).toBe(true)
    expect(took).toBeGreaterThanOrEqual(TIMEOUT - 50)
    expect(took).toBeLessThan(TIMEOUT + MARGIN)
  })

  it.each(MODES)(
    '%s: content.readStream of a CID nobody has (the timeout ends the iteration)',
    async mode => {
      await using ipfs = await open(mode)
      const cid = await ipfs.content.predictCid(randomBytes(64))
      const { error, took } = await timedOut(async () => {
        for await (const chunk of ipfs.content.readStream(cid, { timeout: TIMEOUT })) void chunk
      })
      expect(error).toBeInstanceOf(CallTimeoutError)
      expect(took).toBeLessThan(TIMEOUT + MARGIN)
    }
  )

  it.each(MODES)('%s: peers.connect to a peer that accepts TCP and never answers', async mode => {
    await using ipfs = await open(mode)
    await using silent = await silentServer()
    // A well-formed peer id that nobody has: the dial gets as far as the silent socket.
    const peerId = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
    const { error, took } = await timedOut(() =>
      ipfs.peers.connect(`/ip4/127.0.0.1/tcp/${silent.port}/p2p/${peerId}`, { timeout: TIMEOUT })
    )
    expect(error).toBeInstanceOf(CallTimeoutError)
    expect(took).toBeLessThan(TIMEOUT + MARGIN)
  })
})

describe('CallTimeoutError and @tk/rpc’s RpcTimeoutError', () => {
  it('an RpcTimeoutError is instanceof CallTimeoutError and carries its fields; other errors are not', () => {
    const error = new RpcTimeoutError('cat', 500)
    expect(error).toBeInstanceOf(CallTimeoutError)
    expect(error).toBeInstanceOf(RpcTimeoutError)
    expect([error.name, error.operation, error.timeout]).toEqual(['RpcTimeoutError', 'cat', 500])
    expect(new Error('timeout')).not.toBeInstanceOf(CallTimeoutError)
    expect(new CallTimeoutError('content.read', 5)).not.toBeInstanceOf(RpcTimeoutError)
  })
})
