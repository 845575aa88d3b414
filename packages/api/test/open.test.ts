import { randomBytes } from 'node:crypto'
import net from 'node:net'
import type { Ipfs as GroupedIpfs } from '@tk/interface'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createIpfs } from '../src/ipfs.js'
import { chooseMode, openIpfs, openIpfsFrom } from '../src/open.js'

describe('chooseMode (unit: no node)', () => {
  it('the option first, then TK_MODE, then IPFS_TK_MODE (HTTP → kubo, EMBEDDED → embedded), then kubo', () => {
    const both = { TK_MODE: 'embedded', IPFS_TK_MODE: 'HTTP' }
    expect(chooseMode('kubo', both).mode).toBe('kubo')
    expect(chooseMode(undefined, both)).toEqual({ mode: 'embedded', chosenBy: 'TK_MODE=embedded' })
    expect(chooseMode(undefined, { TK_MODE: 'Kubo' }).mode).toBe('kubo')
    expect(chooseMode(undefined, { IPFS_TK_MODE: 'HTTP' }).mode).toBe('kubo')
    expect(chooseMode(undefined, { IPFS_TK_MODE: 'EMBEDDED' }).mode).toBe('embedded')
    expect(chooseMode(undefined, { IPFS_TK_MODE: 'embedded' }).mode).toBe('embedded')
    expect(chooseMode(undefined, { TK_MODE: '' })).toEqual({ mode: 'kubo', chosenBy: 'default' })
    expect(chooseMode(undefined, {})).toEqual({ mode: 'kubo', chosenBy: 'default' })
  })

  it('an unknown value is an InvalidArgumentError naming where it came from', () => {
    expect(() => chooseMode('http', {})).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'mode' })
    )
    expect(() => chooseMode(undefined, { TK_MODE: 'helia' })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'TK_MODE' })
    )
    expect(() => chooseMode(undefined, { IPFS_TK_MODE: 'KUBO' })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'IPFS_TK_MODE' })
    )
  })
})

describe('openIpfs', () => {
  let kubo: KuboNode

  beforeAll(async () => {
    kubo = await createKuboNode()
  })

  afterEach(() => {
    vi.unstubAllEnvs()
  })

  afterAll(async () => {
    await kubo?.stop()
  })

  it('TK_MODE=kubo (and IPFS_TK_MODE=HTTP) give the Kubo node: its peer id, content published there', async () => {
    vi.stubEnv('TK_MODE', 'kubo')
    await using ipfs = await openIpfs({ backend: 'http', api: kubo.apiUrl })
    expect(ipfs.mode).toBe('kubo')
    expect(await ipfs.peerId()).toBe(kubo.peerId)
    const bytes = randomBytes(1000)
    const cid = await ipfs.content.publish(bytes)
    await using direct = createIpfs({ backend: 'http', api: kubo.apiUrl })
    expect(Buffer.from(await direct.read(cid)).equals(bytes)).toBe(true)

    vi.stubEnv('TK_MODE', '')
    vi.stubEnv('IPFS_TK_MODE', 'HTTP')
    await using python = await openIpfs({ backend: 'http', api: kubo.apiUrl })
    expect([python.mode, await python.peerId()]).toEqual(['kubo', kubo.peerId])
  })

  it('kubo mode with no daemon rejects at open: DaemonUnreachableError over http, NoIpfsNodeError with auto', async () => {
    const server = net.createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    await new Promise<void>(resolve => server.close(() => resolve()))
    await expect(
      openIpfs({ mode: 'kubo', backend: 'http', api: `http://127.0.0.1:${port}`, timeout: 10_000 })
    ).rejects.toMatchObject({ name: 'DaemonUnreachableError' })
    await expect(
      openIpfs({
        mode: 'kubo',
        api: `http://127.0.0.1:${port}`,
        binary: '/nonexistent/ipfs',
        timeout: 10_000
      })
    ).rejects.toMatchObject({ name: 'NoIpfsNodeError' })
  })

  it('TK_MODE=embedded gives a real embedded node: its own peer id, a publish/read round trip, and Kubo reads it', async () => {
    vi.stubEnv('TK_MODE', 'embedded')
    await using ipfs = await openIpfs({ timeout: 60_000 })
    expect(ipfs.mode).toBe('embedded')
    const peerId = await ipfs.peerId()
    expect(peerId).toMatch(/^12D3KooW/)
    expect(peerId).not.toBe(kubo.peerId)
    expect(await ipfs.streams.peerId()).toBe(peerId)

    const bytes = randomBytes(200_000)
    const cid = await ipfs.content.publish(bytes)
    expect(Buffer.from(await ipfs.content.read(cid)).equals(bytes)).toBe(true)

    // The same API on both sides: the embedded node connects to Kubo, which fetches the content from it.
    await using onKubo: GroupedIpfs = await openIpfs({ mode: 'kubo', backend: 'http', api: kubo.apiUrl })
    expect(await ipfs.peers.connect(kubo.swarmAddrs[0] ?? '')).toBe(kubo.peerId)
    expect(Buffer.from(await onKubo.content.read(cid, { timeout: 30_000 })).equals(bytes)).toBe(true)
  })

  it('IPFS_TK_MODE=EMBEDDED gives an embedded node too', async () => {
    vi.stubEnv('TK_MODE', '')
    vi.stubEnv('IPFS_TK_MODE', 'EMBEDDED')
    await using ipfs = await openIpfs({ timeout: 60_000 })
    expect(ipfs.mode).toBe('embedded')
    const cid = await ipfs.content.publish(new TextEncoder().encode('python users'))
    expect(new TextDecoder().decode(await ipfs.content.read(cid))).toBe('python users')
  })

  it('embedded mode without @tk/embedded installed: EmbeddedNotInstalledError saying `npm i` (simulated with a package name that does not exist)', async () => {
    const missing = '@tk/embedded-not-installed'
    vi.stubEnv('TK_MODE', 'embedded')
    const error = await openIpfsFrom({}, missing).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ name: 'EmbeddedNotInstalledError', packageName: missing })
    expect((error as Error).message).toContain(`npm i ${missing}`)
    expect((error as Error).message).toContain('TK_MODE=embedded')
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ERR_MODULE_NOT_FOUND')
  })
})
