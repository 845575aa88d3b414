import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createIpfs, httpAuthorization, NoIpfsNodeError } from '../src/index.js'

/** An address nothing listens on: port 1 is privileged and unused here. */
const DEAD_API = '/ip4/127.0.0.1/tcp/1'

let node: KuboNode

beforeAll(async () => {
  node = await createKuboNode()
})

afterAll(async () => {
  vi.unstubAllEnvs()
  await node?.stop()
})

describe('choosing a backend', () => {
  it('auto picks HTTP when the daemon answers there, and says so', async () => {
    await using ipfs = createIpfs({ api: node.apiUrl })
    expect(ipfs.backend).toBeUndefined()
    expect(await ipfs.myId()).toBe(node.peerId)
    expect(ipfs.backend).toBe('http')
  })

  it('auto falls back to the CLI when only the CLI reaches the node', async () => {
    // HTTP is sent to a dead address (IPFS_API wins over the repo's api file); the CLI finds the
    // daemon through the repo, as a CLI does.
    vi.stubEnv('IPFS_API', DEAD_API)
    try {
      await using ipfs = createIpfs({ repoPath: node.repoPath, binary: node.binary })
      expect(await ipfs.chooseBackend()).toBe('cli')
      expect(ipfs.backend).toBe('cli')
      expect(await ipfs.myId()).toBe(node.peerId)
    } finally {
      vi.unstubAllEnvs()
    }
  })

  it('says what it tried and how to fix it when no backend reaches a node', async () => {
    await using ipfs = createIpfs({ api: DEAD_API, binary: '/nonexistent/ipfs' })
    const error = await ipfs.myId().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(NoIpfsNodeError)
    const tried = (error as NoIpfsNodeError).tried
    expect(tried).toHaveLength(2)
    expect(tried[0]).toMatch(/^HTTP .*127\.0\.0\.1:1.*: no daemon answered$/)
    expect(tried[1]).toMatch(/^CLI .*no ipfs executable/)
    expect((error as Error).message).toContain('ipfs daemon')
    expect(ipfs.backend).toBeUndefined()
  })

  it('an explicit backend is used without probing', async () => {
    await using http = createIpfs({ backend: 'http', api: node.apiUrl })
    await using cli = createIpfs({ backend: 'cli', binary: node.binary, repoPath: node.repoPath })
    expect([http.backend, cli.backend]).toEqual(['http', 'cli'])
    const [viaHttp, viaCli] = await Promise.all([http.version(), cli.version()])
    expect(viaCli).toEqual(viaHttp)
    expect(viaHttp.version).toMatch(/^0\.43\./)
  })

  it('rejects an unknown backend name', () => {
    expect(() => createIpfs({ backend: 'grpc' as 'http' })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'backend' })
    )
  })
})

describe.each([['http'], ['cli']] as const)('node functions (%s)', backend => {
  const make = () =>
    createIpfs({ backend, api: node.apiMultiaddr, binary: node.binary, repoPath: node.repoPath })

  it('myId, myMultiaddrs and version describe the node', async () => {
    await using ipfs = make()
    expect(await ipfs.myId()).toBe(node.peerId)
    const addresses = await ipfs.myMultiaddrs()
    for (const address of node.swarmAddrs) expect(addresses).toContain(address)
    expect(addresses.every(address => address.endsWith(`/p2p/${node.peerId}`))).toBe(true)
    expect((await ipfs.version()).version).toMatch(/^0\.43\./)
  })

  it('isIpfsRunning is true for a live daemon and false, without throwing, for none', async () => {
    await using live = make()
    await using dead = createIpfs({ backend, api: DEAD_API, binary: node.binary })
    expect(await live.isIpfsRunning()).toBe(true)
    expect(await dead.isIpfsRunning()).toBe(false)
  })

  it('waitUntilIpfsIsRunning waits through a restart, and gives up with NoIpfsNodeError', async () => {
    await using ipfs = make()
    const restarted = node.restart()
    await ipfs.waitUntilIpfsIsRunning({ timeout: 30_000 })
    await restarted
    expect(await ipfs.myId()).toBe(node.peerId)

    await using dead = createIpfs({ backend, api: DEAD_API, binary: node.binary })
    const started = Date.now()
    await expect(dead.waitUntilIpfsIsRunning({ timeout: 600 })).rejects.toBeInstanceOf(NoIpfsNodeError)
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

describe('API.Authorizations', () => {
  it('one secret, as written in Kubo’s config, works on both backends', async () => {
    await using secured = await createKuboNode({
      config: {
        API: { Authorizations: { app: { AuthSecret: 'bearer:letmein', AllowedPaths: ['/api/v0'] } } }
      },
      authorization: 'Bearer letmein'
    })
    for (const backend of ['http', 'cli'] as const) {
      await using ipfs = createIpfs({
        backend,
        api: secured.apiMultiaddr,
        binary: secured.binary,
        authorization: 'bearer:letmein'
      })
      expect(await ipfs.myId()).toBe(secured.peerId)
    }
    await using anonymous = createIpfs({ backend: 'http', api: secured.apiUrl })
    await expect(anonymous.myId()).rejects.toMatchObject({ name: 'KuboRpcError', status: 403 })
  })

  it('turns config secrets into HTTP headers', () => {
    expect(httpAuthorization('bearer:abc')).toBe('Bearer abc')
    expect(httpAuthorization('basic:user:pass')).toBe(`Basic ${Buffer.from('user:pass').toString('base64')}`)
    expect(httpAuthorization('Bearer already')).toBe('Bearer already')
    expect(httpAuthorization(undefined)).toBeUndefined()
  })
})
