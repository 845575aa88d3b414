import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLOSE_GRACE } from '../src/constants.js'
import { createKuboClient, type KuboClient, parseApiAddress, resolveApiEndpoint } from '../src/index.js'
import { collect, openConnectionsTo, waitFor } from './helpers.js'

// A CID nobody has: a request for it blocks until it is cancelled.
const MISSING = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

let node: KuboNode
let port: number

beforeAll(async () => {
  node = await createKuboNode()
  port = Number(new URL(node.apiUrl).port)
})

afterAll(async () => {
  await node?.stop()
})

describe('errors', () => {
  it('a bad CID is refused locally, naming the argument', async () => {
    await using client = createKuboClient(node.apiUrl)
    const error = await collect(client.cat('not-a-cid')).catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('InvalidArgumentError')
    expect((error as { argument: string }).argument).toBe('path')
  })

  it('Kubo’s refusal is a KuboRpcError carrying Kubo’s message', async () => {
    await using client = createKuboClient(node.apiUrl)
    const error = await client
      .request('block/stat', { args: ['not-a-cid'] })
      .catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('KuboRpcError')
    const rpcError = error as { status: number; code: number; kuboMessage: string; command: string }
    expect(rpcError.command).toBe('block/stat')
    expect(rpcError.status).toBe(500)
    expect(rpcError.code).toBe(0)
    expect(rpcError.kuboMessage).toMatch(
      /invalid path "not-a-cid"|invalid cid|selected encoding not supported/i
    )
  })

  it('an error after the response started (X-Stream-Error trailer) is thrown by the iterator', async () => {
    await using client = createKuboClient(node.apiUrl)
    const bytes = randomBytes(1024 * 1024)
    const { cid } = await client.add(bytes, {
      chunker: 'size-262144',
      rawLeaves: true,
      cidVersion: 1,
      pin: false
    })
    const links = await (await client.request('refs', { args: [cid] })).ndjson<{ Ref: string }>()
    const refs: string[] = []
    for await (const ref of links) refs.push(ref.Ref)
    expect(refs).toHaveLength(4)
    // Remove the third block: cat streams the first two, then cannot find the third and Kubo's own
    // timeout ends the stream with an error in the trailer.
    const removed = await (await client.request('block/rm', { args: [refs[2] ?? ''] })).json<{
      Hash: string
      Error?: string
    }>()
    expect(removed).toEqual({ Hash: refs[2] })
    const response = await client.request('cat', { args: [cid], options: { timeout: '1500ms' } })
    let received = 0
    const error = await (async () => {
      for await (const chunk of response.bytes()) received += chunk.byteLength
    })().catch((caught: unknown) => caught)
    expect(received).toBe(2 * 262144)
    expect((error as Error).name).toBe('KuboRpcError')
    expect((error as { status: number }).status).toBe(200)
    expect((error as Error).message).toContain('context deadline exceeded')
  })

  it('an unreachable daemon is DaemonUnreachableError naming the address and how to start Kubo', async () => {
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    const freePort = typeof address === 'object' && address != null ? address.port : 0
    await new Promise(resolve => server.close(resolve))
    await using client = createKuboClient(`/ip4/127.0.0.1/tcp/${freePort}`)
    const error = await client.id().catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('DaemonUnreachableError')
    expect((error as Error).message).toContain(`http://127.0.0.1:${freePort}`)
    expect((error as Error).message).toContain('ipfs daemon')
    expect((error as { isRetryable: boolean }).isRetryable).toBe(true)
  })
})

describe('cancellation', () => {
  it('aborting a call ends it with AbortError and closes its connection', async () => {
    await using client = createKuboClient(node.apiUrl)
    const controller = new AbortController()
    const pending = collect(client.cat(MISSING, { signal: controller.signal })).catch(
      (caught: unknown) => caught
    )
    expect(await waitFor(() => openConnectionsTo(port) === 1)).toBe(true)
    controller.abort()
    const error = await pending
    expect((error as Error).name).toBe('AbortError')
    expect(await waitFor(() => openConnectionsTo(port) === 0)).toBe(true)
  })

  it('a timeout ends the call with RpcTimeoutError and leaves no request in flight', async () => {
    const client = createKuboClient(node.apiUrl)
    const started = Date.now()
    const error = await collect(client.cat(MISSING, { timeout: 300 })).catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('RpcTimeoutError')
    expect((error as { timeout: number }).timeout).toBe(300)
    expect(Date.now() - started).toBeLessThan(5_000)
    // Whichever deadline fired first (ours aborts the request and its socket; Kubo's, which it got
    // too, answers with an error on a socket that stays pooled), nothing is left in flight: close()
    // does not wait out its grace for a request, and every connection is gone after it.
    const closing = Date.now()
    await client.close()
    expect(Date.now() - closing).toBeLessThan(CLOSE_GRACE / 2)
    expect(await waitFor(() => openConnectionsTo(port) === 0)).toBe(true)
  })

  it('the client default is a progress timeout: a stalled call fails, a long streaming one does not', async () => {
    await using client = createKuboClient({ apiUrl: node.apiUrl, timeout: 400 })
    const error = await collect(client.cat(MISSING)).catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('RpcTimeoutError')
    const { cid } = await client.add(randomBytes(8 * 1024 * 1024))
    expect((await collect(client.cat(cid))).byteLength).toBe(8 * 1024 * 1024)
  })

  it('breaking out of a stream early releases the connection', async () => {
    await using adder = createKuboClient(node.apiUrl)
    const { cid } = await adder.add(randomBytes(16 * 1024 * 1024))
    await adder.close()
    expect(await waitFor(() => openConnectionsTo(port) === 0)).toBe(true)
    await using client = createKuboClient(node.apiUrl)
    for await (const chunk of client.cat(cid)) {
      expect(chunk.byteLength).toBeGreaterThan(0)
      break
    }
    expect(await waitFor(() => openConnectionsTo(port) === 0)).toBe(true)
  })

  it('calls in parallel share a small keep-alive pool', async () => {
    await using client = createKuboClient({ apiUrl: node.apiUrl, connections: 4 })
    const ids = await Promise.all(Array.from({ length: 50 }, () => client.id()))
    expect(new Set(ids.map(id => id.id))).toEqual(new Set([node.peerId]))
    expect(openConnectionsTo(port)).toBeLessThanOrEqual(4)
    expect(openConnectionsTo(port)).toBeGreaterThan(0)
  })
})

describe('finding the API', () => {
  it('parses URLs and multiaddrs', () => {
    expect(parseApiAddress('/ip4/127.0.0.1/tcp/5001', 'option').origin).toBe('http://127.0.0.1:5001')
    expect(parseApiAddress('/ip6/::1/tcp/5001/http', 'option').origin).toBe('http://[::1]:5001')
    expect(parseApiAddress('/dns4/example.com/tcp/443/tls/http', 'option').origin).toBe(
      'https://example.com:443'
    )
    expect(parseApiAddress('/unix/tmp/kubo.sock', 'option').socketPath).toBe('/tmp/kubo.sock')
    const withAuth = parseApiAddress('http://alice:s3cret@127.0.0.1:5001', 'option')
    expect(withAuth.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`)
    expect(() => parseApiAddress('localhost:5001', 'option')).toThrow(/neither a URL/)
  })

  it('option, then IPFS_API, then $IPFS_PATH/api, then the default', async () => {
    expect(resolveApiEndpoint('http://127.0.0.1:1', { IPFS_API: '/ip4/127.0.0.1/tcp/2' }).origin).toBe(
      'http://127.0.0.1:1'
    )
    expect(resolveApiEndpoint(undefined, { IPFS_API: '/ip4/127.0.0.1/tcp/2' })).toMatchObject({
      origin: 'http://127.0.0.1:2',
      source: 'IPFS_API'
    })
    expect(resolveApiEndpoint(undefined, { IPFS_PATH: node.repoPath })).toMatchObject({
      origin: node.apiUrl,
      source: 'repo api file'
    })
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-rpc-repo-'))
    expect(resolveApiEndpoint(undefined, { IPFS_PATH: empty })).toMatchObject({
      origin: 'http://127.0.0.1:5001',
      source: 'default'
    })
    await fs.rm(empty, { recursive: true })
  })

  it('a client made from IPFS_PATH reaches that daemon', async () => {
    const saved = process.env.IPFS_PATH
    process.env.IPFS_PATH = node.repoPath
    try {
      await using client: KuboClient = createKuboClient()
      expect((await client.id()).id).toBe(node.peerId)
    } finally {
      if (saved == null) delete process.env.IPFS_PATH
      else process.env.IPFS_PATH = saved
    }
  })
})

describe('API.Authorizations', () => {
  it('sends the Authorization header Kubo checks', async () => {
    await using secured = await createKuboNode({
      config: {
        API: { Authorizations: { tests: { AuthSecret: 'bearer:letmein', AllowedPaths: ['/api/v0'] } } }
      },
      authorization: 'Bearer letmein'
    })
    await using anonymous = createKuboClient(secured.apiUrl)
    const refused = await anonymous.id().catch((caught: unknown) => caught)
    expect((refused as Error).name).toBe('KuboRpcError')
    expect((refused as { status: number }).status).toBe(403)
    await using authorized = createKuboClient({ apiUrl: secured.apiUrl, authorization: 'Bearer letmein' })
    expect((await authorized.id()).id).toBe(secured.peerId)
  })
})

describe('closing', () => {
  it('close() does not hang on a response nobody reads, and frees its connection', async () => {
    const client = createKuboClient(node.apiUrl)
    const data = randomBytes(4 * 1024 * 1024)
    const { cid } = await client.add(data)
    const response = await client.request('cat', { args: [cid] })
    // The response is streaming the content, and most of it is still unread when close() comes.
    const first = await response.bytes()[Symbol.asyncIterator]().next()
    const chunk = Buffer.from(first.value ?? new Uint8Array(0))
    expect(chunk.byteLength).toBeGreaterThan(0)
    expect(chunk.byteLength).toBeLessThan(data.byteLength)
    expect(chunk.equals(data.subarray(0, chunk.byteLength))).toBe(true)
    const started = Date.now()
    await client.close()
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(await waitFor(() => openConnectionsTo(port) === 0)).toBe(true)
  })
})
