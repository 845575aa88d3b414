import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createKuboCluster, createKuboNode, findKuboBinary, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKuboClient, type KuboClient } from '../src/index.js'
import { all, collect, sha256 } from './helpers.js'

let node: KuboNode
let client: KuboClient

beforeAll(async () => {
  node = await createKuboNode()
  client = createKuboClient({ apiUrl: node.apiMultiaddr })
})

afterAll(async () => {
  await client?.close()
  await node?.stop()
})

describe('add and read back', () => {
  it('adds a string and bytes; cat returns the same bytes; the CID matches onlyHash', async () => {
    const text = await client.add('hello world')
    expect(text.cid).toBe('Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD')
    expect(new TextDecoder().decode(await collect(client.cat(text.cid)))).toBe('hello world')

    const bytes = randomBytes(3 * 1024 * 1024 + 17)
    const added = await client.add(bytes, { cidVersion: 1, rawLeaves: true, chunker: 'size-65536' })
    expect(added.cid).toMatch(/^bafk|^bafy/)
    expect(sha256(await collect(client.cat(added.cid)))).toBe(sha256(bytes))
    const predicted = await client.add(bytes, {
      cidVersion: 1,
      rawLeaves: true,
      chunker: 'size-65536',
      onlyHash: true
    })
    expect(predicted.cid).toBe(added.cid)

    const slice = await collect(client.cat(added.cid, { offset: 1000, length: 500 }))
    expect(sha256(slice)).toBe(sha256(bytes.subarray(1000, 1500)))
  })

  it('adds Node streams, Web streams and async iterables as one file each', async () => {
    const bytes = randomBytes(300_000)
    const expected = (await client.add(bytes)).cid
    const { Readable } = await import('node:stream')
    expect((await client.add(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]))).cid).toBe(
      expected
    )
    expect((await client.add(new Blob([bytes]).stream())).cid).toBe(expected)
    async function* generate(): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < bytes.length; offset += 7777) yield bytes.subarray(offset, offset + 7777)
    }
    expect((await client.add(generate())).cid).toBe(expected)
  })

  it('adds an in-memory tree and a directory from disk; ls and get show the same content', async () => {
    const results = await all(
      client.addAll([
        { path: 'site' },
        { path: 'site/index.html', content: '<h1>hi</h1>' },
        { path: 'site/css/main.css', content: 'body{}' }
      ])
    )
    expect(results.map(result => result.name)).toEqual([
      'site/index.html',
      'site/css/main.css',
      'site/css',
      'site'
    ])
    const site = results.at(-1)
    if (site == null) throw new Error('no root')
    const listing = await client.ls(site.cid)
    expect(listing.links.map(link => [link.name, link.type])).toEqual([
      ['css', 1],
      ['index.html', 2]
    ])
    expect(new TextDecoder().decode(await collect(client.cat(`/ipfs/${site.cid}/css/main.css`)))).toBe(
      'body{}'
    )

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-rpc-add-'))
    try {
      await fs.mkdir(path.join(dir, 'photos', 'nested'), { recursive: true })
      const photo = randomBytes(200_000)
      await fs.writeFile(path.join(dir, 'photos', 'a.bin'), photo)
      await fs.writeFile(path.join(dir, 'photos', 'nested', 'b.txt'), 'b')
      await fs.writeFile(path.join(dir, 'photos', '.hidden'), 'secret')
      const root = await client.addPath(path.join(dir, 'photos'), { cidVersion: 1 })
      expect(root.name).toBe('photos')
      const names = (await client.ls(root.cid)).links.map(link => link.name)
      expect(names).toEqual(['a.bin', 'nested'])
      expect(sha256(await collect(client.cat(`${root.cid}/a.bin`)))).toBe(sha256(photo))
      await fs.chmod(path.join(dir, 'photos', 'a.bin'), 0o640)
      const when = new Date('2024-02-03T04:05:06Z')
      await fs.utimes(path.join(dir, 'photos', 'a.bin'), when, when)
      const preserved = await client.addPath(path.join(dir, 'photos'), {
        preserveMode: true,
        preserveMtime: true
      })
      const file = (await client.ls(preserved.cid, { long: true })).links.find(link => link.name === 'a.bin')
      expect(file?.mode).toBe(0o640)
      expect(file?.mtime?.toISOString()).toBe(when.toISOString())
      const withHidden = await client.addPath(path.join(dir, 'photos'), { cidVersion: 1, hidden: true })
      expect((await client.ls(withHidden.cid)).links.map(link => link.name)).toEqual([
        '.hidden',
        'a.bin',
        'nested'
      ])

      const tar = await collect(client.get(root.cid))
      // A TAR stream: the first header names the root, and the file's bytes are inside.
      expect(new TextDecoder().decode(tar.subarray(0, 100))).toContain(root.cid)
      expect(Buffer.from(tar).indexOf(photo.subarray(0, 64))).toBeGreaterThan(0)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  it('wraps with a directory and reports progress', async () => {
    const progress: number[] = []
    const results = await all(
      client.addAll([{ path: 'one.txt', content: randomBytes(600_000) }], {
        wrapWithDirectory: true,
        onProgress: bytes => progress.push(bytes)
      })
    )
    expect(results.map(result => result.name)).toEqual(['one.txt', ''])
    expect(progress.at(-1)).toBe(600_000)
    expect((await client.ls(results[1]?.cid ?? '')).links.map(link => link.name)).toEqual(['one.txt'])
  })
})

describe('node information', () => {
  it('id, version, commands, refs, resolve', async () => {
    // The Kubo the node runs: the pinned one, or KUBO_BINARY (CI also runs the oldest supported).
    const kuboVersion = (await findKuboBinary()).version
    const id = await client.id()
    expect(id.id).toBe(node.peerId)
    expect(id.addresses).toContain(node.swarmAddrs[0])
    expect(id.agentVersion.split('/').slice(0, 2)).toEqual(['kubo', kuboVersion])

    const version = await client.version()
    expect(version.version).toBe(kuboVersion)
    const deps = await all(client.version.deps())
    expect(deps.some(dependency => dependency.path === 'github.com/libp2p/go-libp2p')).toBe(true)

    const tree = await client.commands()
    expect(tree.subcommands.map(command => command.name)).toContain('swarm')

    const { cid } = await client.add('refs-test')
    const local = await all(client.refs.local())
    expect(local.some(ref => ref.error === '' && ref.ref !== '')).toBe(true)
    const dir = (await all(client.addAll([{ path: 'd' }, { path: 'd/x', content: 'refs-test' }]))).at(-1)
    expect((await all(client.refs(dir?.cid ?? ''))).map(ref => ref.ref)).toEqual([cid])
    expect(await client.resolve(`/ipfs/${dir?.cid}/x`)).toBe(`/ipfs/${cid}`)
  })

  it('pings a connected peer', async () => {
    const cluster = await createKuboCluster(2)
    try {
      const [a, b] = cluster.nodes
      const pinger = createKuboClient(a?.apiUrl)
      const replies = await all(pinger.ping(b?.peerId ?? '', { count: 2 }))
      const pings = replies.filter(reply => reply.success && reply.time > 0 && reply.text === '')
      expect(pings).toHaveLength(2)
      expect((await pinger.id(b?.peerId ?? '')).id).toBe(b?.peerId)
      await pinger.close()
    } finally {
      await cluster.stop()
    }
  })

  it('shutdown stops the daemon', async () => {
    const other = await createKuboNode()
    const otherClient = createKuboClient(other.apiUrl)
    await otherClient.shutdown()
    await expect.poll(() => other.running, { timeout: 10_000 }).toBe(false)
    await otherClient.close()
    await other.stop()
  })
})

describe('the escape hatch', () => {
  it('calls any command with Kubo’s own option names', async () => {
    const response = await client.request('add', {
      body: 'raw',
      options: { 'cid-version': 1, 'raw-leaves': true }
    })
    const added = await response.json<{ Hash: string }>()
    expect(added.Hash).toBe((await client.add('raw', { cidVersion: 1, rawLeaves: true })).cid)
    const listen = await (await client.request('swarm/addrs/listen')).json<{ Strings: string[] }>()
    expect(listen.Strings.some(address => node.swarmAddrs[0]?.startsWith(address))).toBe(true)
  })
})
