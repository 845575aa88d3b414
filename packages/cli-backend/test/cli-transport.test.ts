import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { KuboClient } from '@tk/rpc'
import { createKuboNode, findKuboBinary, type KuboNode } from '@tk/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliTransport, createKuboCliClient, KuboBinaryNotFoundError } from '../src/index.js'
import { all, cliClientOf, collect, ipfsProcessesWith, type OwnTmpdir, ownTmpdir, text } from './helpers.js'

const run = promisify(execFile)

describe('cliTransport against a running daemon', () => {
  let node: KuboNode
  let client: KuboClient
  let tmp: OwnTmpdir

  beforeAll(async () => {
    node = await createKuboNode()
    tmp = await ownTmpdir('tk-cli-test-')
    client = cliClientOf(node)
  })

  afterAll(async () => {
    await client?.close()
    await node?.stop()
    await tmp?.restore()
  })

  it('passes positionals that look like options as arguments, not options', async () => {
    const key = await client.key.gen('-k')
    expect(key.name).toBe('-k')
    expect((await client.key.ls()).map(entry => entry.name)).toContain('-k')
    const help = await client.key.gen('--help')
    expect(help.name).toBe('--help')
    expect((await client.key.rm(['-k', '--help'])).map(entry => entry.name).sort()).toEqual(['--help', '-k'])
  })

  it('adds trees through a temp dir and removes it; single files through stdin', async () => {
    const results = await all(
      client.addAll([
        { path: 'd', mode: 0o755 },
        { path: 'd/a.txt', content: 'a', mtime: new Date(1_000_000_000_000) },
        { path: 'd/sub/b.txt', content: ['b', 'b'] as unknown as Iterable<Uint8Array> }
      ])
    )
    expect(results.map(result => result.name)).toEqual(['d/a.txt', 'd/sub/b.txt', 'd/sub', 'd'])
    expect(await text(client.cat(`${results[3]?.cid}/sub/b.txt`))).toBe('bb')
    const named = await client.add([{ path: 'note.txt', content: 'stdin' }], { wrapWithDirectory: true })
    expect(await text(client.cat(`/ipfs/${named.cid}/note.txt`))).toBe('stdin')
    const tar = Buffer.from(await collect(client.get(named.cid)))
    expect(tar.includes('stdin')).toBe(true)
    expect(await fs.readdir(tmp.dir)).toEqual([])
  })

  it('sends bodies of other commands through stdin: block put, files write, key sign', async () => {
    const block = await client.request('block/put', { body: 'raw block' })
    const { Key } = await block.json<{ Key: string; Size: number }>()
    const stored = await client.request('block/get', { args: [Key] })
    expect(await text(stored.bytes())).toBe('raw block')
    await client.files.write('/notes.txt', 'written via stdin', { create: true })
    expect(await text(client.files.read('/notes.txt'))).toBe('written via stdin')
    const signed = await client.key.sign('data')
    expect((await client.key.verify('data', { signature: signed.signature })).valid).toBe(true)
  })

  it('gives binary arguments (pubsub topics) to ipfs as the text they hold, and refuses what is not text', async () => {
    const topic = `bytes-topic-ü-${process.pid}`
    const controller = new AbortController()
    const stream = await client.pubsub.subscribe(new TextEncoder().encode(topic), {
      signal: controller.signal,
      timeout: 15_000
    })
    // Kubo lists it as the text, not as its multibase form: the CLI got the text.
    expect(await client.pubsub.ls()).toContain(topic)
    await client.pubsub.pub(topic, 'to the bytes topic')
    const first = await stream.next()
    expect(new TextDecoder().decode(first.value?.data)).toBe('to the bytes topic')
    await stream.return()
    controller.abort()
    for (const bytes of [new Uint8Array([0xff, 0xfe, 0x41]), new TextEncoder().encode('nul\0topic')]) {
      await expect(client.pubsub.pub(bytes, 'x')).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'topic'
      })
    }
  })

  it('kills the process when the caller aborts or stops reading, and on close()', async () => {
    const topic = `kill-check-${process.pid}`
    const controller = new AbortController()
    const subscription = all(client.pubsub.sub(topic, { signal: controller.signal })).catch(
      (caught: unknown) => caught as Error
    )
    await expect.poll(async () => await ipfsProcessesWith(topic), { timeout: 10_000 }).toBe(1)
    controller.abort()
    expect(await subscription).toMatchObject({ name: 'AbortError', command: 'pubsub/sub' })
    await expect.poll(async () => await ipfsProcessesWith(topic), { timeout: 10_000 }).toBe(0)

    const own = cliClientOf(node)
    const closing = all(own.pubsub.sub(`${topic}-close`)).catch((caught: unknown) => caught as Error)
    await expect.poll(async () => await ipfsProcessesWith(`${topic}-close`), { timeout: 10_000 }).toBe(1)
    await own.close()
    expect(await ipfsProcessesWith(`${topic}-close`)).toBe(0)
    expect(await closing).toMatchObject({ name: 'AbortError' })
    await expect(own.id()).rejects.toMatchObject({ name: 'AbortError' })
  })
})

describe('cliTransport with a repo and no daemon (offline)', () => {
  let repoPath: string
  let binary: string

  beforeAll(async () => {
    binary = (await findKuboBinary()).path
    repoPath = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-cli-offline-'))
    await run(binary, ['init', '--profile', 'test'], { env: { ...process.env, IPFS_PATH: repoPath } })
  })

  afterAll(async () => {
    await fs.rm(repoPath, { recursive: true, force: true })
  })

  afterEach(async () => {
    expect(await fs.readdir(repoPath)).not.toContain('api')
  })

  it('runs what works offline: add --only-hash, key gen, config show', async () => {
    await using client = createKuboCliClient({ binary, repoPath })
    // The CIDv0 of the UnixFS file "hello", as any Kubo computes it.
    expect((await client.add('hello', { onlyHash: true })).cid).toBe(
      'QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX'
    )
    const key = await client.key.gen('offline-key')
    expect((await client.key.ls()).map(entry => entry.id)).toContain(key.id)
    const config = (await client.config.show()) as { Identity: { PeerID: string } }
    expect(config.Identity.PeerID).toMatch(/^12D3KooW/)
  })

  it('fails fast with DaemonUnreachableError where a daemon is needed', async () => {
    await using client = createKuboCliClient({ binary, repoPath })
    const started = Date.now()
    await expect(client.swarm.peers()).rejects.toMatchObject({
      name: 'DaemonUnreachableError',
      command: 'swarm/peers'
    })
    await expect(
      client.routing.findpeer('12D3KooWSRbN1p6JjNEJqjwsssv91Mca2neZDiA5mX44E9CatUP9').next()
    ).rejects.toMatchObject({
      name: 'DaemonUnreachableError'
    })
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  it('exports keys and rotates the identity (CLI-only commands)', async () => {
    await using client = createKuboCliClient({ binary, repoPath })
    const key = await client.key.gen('to-export')
    const exported = await client.key.export('to-export')
    expect(exported.byteLength).toBeGreaterThan(32)
    const imported = await client.key.import('re-imported', exported)
    expect(imported.id).toBe(key.id)
    const pem = new TextDecoder().decode(
      await client.key.export('to-export', { format: 'pem-pkcs8-cleartext' })
    )
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    await expect(client.key.export('no-such-key')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: "key with name 'no-such-key' doesn't exist"
    })

    const before = ((await client.config.show()) as { Identity: { PeerID: string } }).Identity.PeerID
    const rotated = await client.key.rotate({ oldkey: 'old-self' })
    expect(rotated.peerId).not.toBe(before)
    expect(((await client.config.show()) as { Identity: { PeerID: string } }).Identity.PeerID).toBe(
      rotated.peerId
    )
    expect((await client.key.ls()).map(entry => entry.name)).toContain('old-self')
  })
})

describe('finding the ipfs binary', () => {
  it('throws KuboBinaryNotFoundError saying how to install Kubo', () => {
    let error: unknown
    try {
      cliTransport({ env: { KUBO_BINARY: '', PATH: '/nonexistent' } })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(KuboBinaryNotFoundError)
    expect((error as Error).name).toBe('KuboBinaryNotFoundError')
    expect((error as Error).message).toMatch(/Install Kubo .*KUBO_BINARY/s)
    expect(() => cliTransport({ env: { KUBO_BINARY: '/nonexistent/ipfs' } })).toThrow(
      /KUBO_BINARY=\/nonexistent\/ipfs/
    )
  })
})
