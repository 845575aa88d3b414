import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { createKuboCluster, type KuboCluster } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BACKENDS,
  collect,
  craftedArchiveApi,
  LONG_NAME,
  openPair,
  partFiles,
  paxPath,
  sha256,
  snapshot,
  type TestApi,
  tarArchive,
  tarEntry
} from './content-helpers.js'

let cluster: KuboCluster

/** How many `.part-` download leftovers `folder` holds, counted synchronously (inside a progress callback). */
function partsIn(folder: string): number {
  return readdirSync(folder).filter(name => name.includes('.part-')).length
}

beforeAll(async () => {
  cluster = await createKuboCluster(2)
})

afterAll(async () => {
  await cluster?.stop()
})

describe.each(BACKENDS)('content functions over %s', backend => {
  let a: TestApi
  let b: TestApi
  let work: string
  let tree: string
  let treeCid = ''

  let close: () => Promise<void> = async () => {}

  beforeAll(async () => {
    ;({ a, b, work, tree, close } = await openPair(cluster, backend, 'content'))
    // Several tests use the tree published and pinned: published here, so that each can run alone.
    treeCid = await a.publish(tree)
  })

  afterAll(async () => {
    await close()
  })

  it('publishes a file on A; B reads it whole, streams it, reads a range and downloads it', async () => {
    const bytes = randomBytes(600 * 1024)
    const file = path.join(work, 'file.bin')
    await fs.writeFile(file, bytes)
    const cid = await a.publish(file)
    expect(cid).toMatch(/^bafy/) // CIDv1 by default; a multi-block file's root is dag-pb
    expect(await a.predictCid(file)).toBe(cid)

    expect(sha256(await b.read(cid))).toBe(sha256(bytes))
    expect(sha256(await collect(b.readStream(`/ipfs/${cid}`)))).toBe(sha256(bytes))
    expect(Buffer.from(await b.read(cid, { offset: 1000, length: 50 }))).toEqual(bytes.subarray(1000, 1050))

    const destination = path.join(work, 'downloaded-file.bin')
    expect(await b.download(cid, destination)).toBe(destination)
    expect(sha256(await fs.readFile(destination))).toBe(sha256(bytes))
    expect(await partFiles(work)).toEqual([])
  })

  it('publishes a directory tree on A as its own CID; B downloads the same tree', async () => {
    expect(await a.publish(tree)).toBe(treeCid)
    expect(await a.predictCid(tree)).toBe(treeCid)
    const listing = await a.client.ls(treeCid)
    expect(listing.links.map(link => link.name).sort()).toEqual(
      ['binary.bin', 'hello.txt', 'link-to-deep', 'nested'].sort()
    )

    const destination = path.join(work, 'downloaded-site')
    await b.download(treeCid, destination)
    const expected = (await snapshot(tree)).filter(entry => entry.path !== '.hidden')
    expect(await snapshot(destination)).toEqual(expected)
    expect(expected.map(entry => entry.path)).toEqual(
      expect.arrayContaining([`nested/${LONG_NAME}`, 'nested/deeper/ünïcødé näme.txt', 'nested/empty-folder'])
    )
    expect(await fs.readlink(path.join(destination, 'link-to-deep'))).toBe('nested/deeper/deep.bin')

    // A path inside the tree downloads just that part.
    const part = path.join(work, 'downloaded-deeper')
    await b.download(`/ipfs/${treeCid}/nested/deeper`, part)
    expect(await snapshot(part)).toEqual(
      expected
        .filter(entry => entry.path.startsWith('nested/deeper'))
        .map(entry => ({ ...entry, path: entry.path.slice('nested/deeper/'.length) }))
    )
    expect(await partFiles(work)).toEqual([])
  })

  it('publish options: hidden, wrapWithDirectory, cidVersion 0, chunker and pin: false', async () => {
    const withHidden = await a.publish(tree, { hidden: true })
    expect(withHidden).not.toBe(treeCid)
    expect((await a.client.ls(withHidden)).links.map(link => link.name)).toContain('.hidden')
    const hiddenCopy = path.join(work, 'downloaded-hidden')
    await b.download(withHidden, hiddenCopy)
    expect(await snapshot(hiddenCopy)).toEqual(await snapshot(tree))

    const wrapped = await a.publish(tree, { wrapWithDirectory: true })
    const wrapper = await a.client.ls(wrapped)
    expect(wrapper.links.map(link => [link.name, link.cid])).toEqual([['site', treeCid]])

    const version0 = await a.publish(tree, { cidVersion: 0 })
    expect(version0).toMatch(/^Qm/)
    expect(await a.predictCid(tree, { cidVersion: 0 })).toBe(version0)

    const file = path.join(tree, 'binary.bin')
    const smallChunks = await a.predictCid(file, { chunker: 'size-1024' })
    expect(smallChunks).not.toBe(await a.predictCid(file))
    expect(await a.publish(file, { chunker: 'size-1024' })).toBe(smallChunks)

    const unpinned = await a.publish(randomBytes(100), { pin: false })
    expect(await a.pins({ cidsOnly: true })).not.toContain(unpinned)
  })

  it('publishes bytes, a Node stream, a web stream and an async iterable as the same file', async () => {
    const bytes = randomBytes(300 * 1024)
    const file = path.join(work, 'stream-source.bin')
    await fs.writeFile(file, bytes)
    const expected = await a.predictCid(file)
    expect(await a.predictCid(bytes)).toBe(expected)
    expect(await a.publish(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]))).toBe(expected)
    expect(await a.publish(Readable.toWeb(Readable.from([bytes])) as ReadableStream<Uint8Array>)).toBe(
      expected
    )
    expect(
      await a.publish(
        (async function* () {
          yield bytes.subarray(0, 5)
          yield bytes.subarray(5)
        })()
      )
    ).toBe(expected)
    expect(sha256(await b.read(expected))).toBe(sha256(bytes))
  })

  it('refuses to overwrite an existing destination unless asked; overwrite replaces files and folders', async () => {
    const first = await a.publish(new TextEncoder().encode(`first ${backend}`))
    const destination = path.join(work, 'existing.txt')
    await fs.writeFile(destination, 'mine')
    await expect(b.download(first, destination)).rejects.toMatchObject({
      name: 'LocalPathError',
      path: destination
    })
    expect(await fs.readFile(destination, 'utf8')).toBe('mine')

    await b.download(first, destination, { overwrite: true })
    expect(await fs.readFile(destination, 'utf8')).toBe(`first ${backend}`)

    // A folder with content is replaced by a file, and a file by a folder.
    const folder = path.join(work, 'existing-folder')
    await fs.mkdir(folder)
    await fs.writeFile(path.join(folder, 'old.txt'), 'old')
    await expect(b.download(treeCid, folder)).rejects.toMatchObject({ name: 'LocalPathError', path: folder })
    await b.download(treeCid, folder, { overwrite: true })
    expect(await snapshot(folder)).toEqual((await snapshot(tree)).filter(entry => entry.path !== '.hidden'))
    await b.download(first, folder, { overwrite: true })
    expect(await fs.readFile(folder, 'utf8')).toBe(`first ${backend}`)
    expect(
      (await fs.readdir(work)).filter(name => name.includes('.part-') || name.includes('.old-'))
    ).toEqual([])
  })

  it('an abort mid-download leaves neither the destination nor a .part file', async () => {
    const big = randomBytes(24 * 1024 * 1024)
    const cid = await a.publish(big)
    const folder = path.join(work, 'aborted')
    await fs.mkdir(folder)
    const destination = path.join(folder, 'big.bin')
    const controller = new AbortController()
    const seen: Array<{ bytes: number; destinationExists: boolean; parts: number }> = []
    const failure = await b
      .download(cid, destination, {
        signal: controller.signal,
        onProgress: bytes => {
          if (seen.length > 0) return
          seen.push({ bytes, destinationExists: existsSync(destination), parts: partsIn(folder) })
          controller.abort()
        }
      })
      .catch((error: unknown) => error as Error)
    expect(failure).toMatchObject({ name: 'AbortError' })
    expect(seen).toHaveLength(1)
    expect(seen[0]?.bytes).toBeLessThan(big.byteLength)
    expect(seen[0]).toMatchObject({ destinationExists: false, parts: 1 })
    expect(await fs.readdir(folder)).toEqual([])

    // While a download runs, only its .part sibling exists; the finished file is complete.
    const during: Array<{ destinationExists: boolean; parts: number }> = []
    await b.download(cid, destination, {
      onProgress: () => {
        if (during.length === 0)
          during.push({ destinationExists: existsSync(destination), parts: partsIn(folder) })
      }
    })
    expect(during).toEqual([{ destinationExists: false, parts: 1 }])
    expect(sha256(await fs.readFile(destination))).toBe(sha256(big))
    expect(await fs.readdir(folder)).toEqual(['big.bin'])
  })

  it('empty files: a dag-pb one travels; a raw one (CIDv1 default) does not leave its node in Kubo 0.43', async () => {
    const empty = path.join(work, 'empty.txt')
    await fs.writeFile(empty, '')
    const wrapped = await a.publish(empty, { rawLeaves: false })
    expect(wrapped).toMatch(/^bafybei/)
    expect((await b.read(wrapped)).byteLength).toBe(0)
    const copy = path.join(work, 'downloaded-empty.txt')
    await b.download(wrapped, copy)
    expect((await fs.stat(copy)).size).toBe(0)

    // The empty raw block is stored on A, but B's bitswap never gets it from A: a Kubo limitation,
    // so trees with empty files need `rawLeaves: false` to be fetched by other nodes.
    const raw = await a.publish(empty)
    expect(raw).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    expect((await a.read(raw)).byteLength).toBe(0)
    // Whichever clock runs out first: ours (RpcTimeoutError) or Kubo's (the same deadline, sent along).
    await expect(b.read(raw, { timeout: 3_000 })).rejects.toThrow(
      /did not finish within 3000 ms|context deadline exceeded/
    )
    expect(await partFiles(work)).toEqual([])
  })

  it('read guards with maxBytes', async () => {
    const bytes = randomBytes(200 * 1024)
    const cid = await a.publish(bytes)
    expect(sha256(await b.read(cid, { maxBytes: bytes.byteLength }))).toBe(sha256(bytes))
    await expect(b.read(cid, { maxBytes: bytes.byteLength - 1 })).rejects.toMatchObject({
      name: 'ContentTooLargeError',
      cid,
      maxBytes: bytes.byteLength - 1
    })
    await expect(b.read(cid, { maxBytes: -1 })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'maxBytes'
    })
  })

  it('pin, unpin and pins (cached with cacheAge) read back', async () => {
    const cid = await a.publish(randomBytes(1000), { pin: false })
    expect(await b.pins({ cidsOnly: true })).not.toContain(cid)
    await b.pin(cid)
    expect(await b.pins()).toContainEqual({ cid, type: 'recursive' })
    expect(await b.pins({ cidsOnly: true, type: 'recursive' })).toContain(cid)
    expect(await b.pins({ type: 'direct' })).not.toContainEqual(expect.objectContaining({ cid }))

    // A pin made behind the functions' back is not in a cached list until it is refreshed.
    const other = await a.publish(randomBytes(1000), { pin: false })
    await b.client.pin.add(other)
    expect(await b.pins({ cidsOnly: true, cacheAge: 60_000 })).not.toContain(other)
    expect(await b.pins({ cidsOnly: true })).toContain(other)
    expect(await b.pins({ cidsOnly: true, cacheAge: 60_000 })).toContain(other)

    await b.unpin(cid)
    expect(await b.pins({ cidsOnly: true, cacheAge: 60_000 })).not.toContain(cid)
    await expect(b.unpin(cid)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'not pinned or pinned indirectly'
    })
  })

  it('remove unpins, collects garbage and says whether the block is gone', async () => {
    const pinned = await a.publish(randomBytes(5000))
    expect(await a.remove(pinned)).toBe(true)
    await expect(a.client.block.stat(pinned, { offline: true })).rejects.toMatchObject({
      name: 'KuboRpcError'
    })
    expect(await a.pins({ cidsOnly: true })).not.toContain(pinned)

    const unpinned = await a.publish(randomBytes(5000), { pin: false })
    expect(await a.remove(unpinned)).toBe(true)

    // A file inside the pinned tree stays: the tree's pin still holds it.
    const inside = (await a.client.ls(treeCid)).links.find(link => link.name === 'hello.txt')
    expect(inside).toMatchObject({ name: 'hello.txt', cid: expect.stringMatching(/^(Qm|baf)/) })
    expect(await a.remove(inside?.cid ?? '')).toBe(false)
    expect((await a.client.block.stat(inside?.cid ?? '', { offline: true })).cid).toBe(inside?.cid)
  })

  it('rejects bad input before any request', async () => {
    const missing = path.join(work, 'does-not-exist')
    await expect(a.publish(missing)).rejects.toMatchObject({ name: 'LocalPathError', path: missing })
    await expect(a.predictCid(missing)).rejects.toMatchObject({ name: 'LocalPathError', path: missing })
    await expect(a.publish(42 as unknown as string)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'input'
    })
    await expect(a.publish(tree, { cidVersion: 2 as 1 })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cidVersion'
    })

    for (const bad of ['not-a-cid', '', '/ipfs/nope']) {
      await expect(b.read(bad)).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'cid' })
      expect(() => b.readStream(bad)).toThrow(expect.objectContaining({ argument: 'cid' }))
      await expect(b.download(bad, path.join(work, 'x'))).rejects.toMatchObject({ argument: 'cid' })
      await expect(b.pin(bad)).rejects.toMatchObject({ argument: 'cid' })
      await expect(b.unpin(bad)).rejects.toMatchObject({ argument: 'cid' })
      await expect(b.remove(bad)).rejects.toMatchObject({ argument: 'cid' })
    }
    await expect(b.download(treeCid, path.join(missing, 'inside'))).rejects.toMatchObject({
      name: 'LocalPathError',
      path: missing
    })
    await expect(b.pins({ type: 'some' as 'all' })).rejects.toMatchObject({ argument: 'type' })
    await expect(b.read(treeCid, { offset: -1 })).rejects.toMatchObject({ argument: 'offset' })
  })

  it('a directory with an entry that cannot be read fails naming that entry', async () => {
    const broken = path.join(work, 'broken')
    await fs.mkdir(path.join(broken, 'sub'), { recursive: true })
    await fs.writeFile(path.join(broken, 'fine.txt'), 'fine')
    await fs.symlink('../nowhere', path.join(broken, 'sub', 'dangling'))
    // Not followed, a dangling link is published as a link; followed, it cannot be read.
    expect(await a.predictCid(broken)).toMatch(/^bafy/)
    await expect(a.publish(broken, { followSymlinks: true })).rejects.toMatchObject({
      name: 'LocalPathError',
      path: path.join(broken, 'sub', 'dangling')
    })
  })
})

describe('download refuses hostile archives (crafted TAR bytes; Kubo never writes these)', () => {
  let work: string
  const cid = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-api-hostile-'))
  })

  afterAll(async () => {
    if (work != null) await fs.rm(work, { recursive: true, force: true })
  })

  /** The case `label`: an archive of a directory `root` and a file `name`, which is the entry at fault. */
  const entryUnderRoot = (label: string, name: string): [string, Uint8Array, string] => [
    label,
    tarArchive([tarEntry({ name: 'root', type: '5' }), tarEntry({ name, content: 'x' })]),
    name
  ]

  /** The case `label`: a PAX header that renames the file after it, in a directory `root`, to `name`. */
  const paxNameUnderRoot = (label: string, name: string): [string, Uint8Array, string] => [
    label,
    tarArchive([
      tarEntry({ name: 'root', type: '5' }),
      paxPath(name),
      tarEntry({ name: 'root/harmless.txt', content: 'x' })
    ]),
    name
  ]

  const cases: Array<[string, Uint8Array, string]> = [
    entryUnderRoot('a ".." entry', 'root/../escaped.txt'),
    entryUnderRoot('an absolute entry', '/tmp/escaped.txt'),
    entryUnderRoot(
      'a "..\\" entry, which climbs out where \\ separates (Windows)',
      'root/..\\..\\escaped.txt'
    ),
    entryUnderRoot('a ".." between a / and a \\', 'root/sub\\../../escaped.txt'),
    entryUnderRoot('a drive letter inside the name', 'root/C:\\escaped.txt'),
    entryUnderRoot('a drive-relative part', 'root/D:escaped.txt'),
    [
      'a name absolute with \\ (Windows)',
      tarArchive([tarEntry({ name: '\\\\server\\share\\escaped.txt', content: 'x' })]),
      '\\\\server\\share\\escaped.txt'
    ],
    paxNameUnderRoot('a "..\\" name in a PAX header', 'root/..\\escaped.txt'),
    entryUnderRoot('a ".. " part, which Windows trims to ".."', 'root/.. /escaped.txt'),
    entryUnderRoot('an entry outside the first one', 'other/escaped.txt'),
    [
      'a file written through a symlink',
      tarArchive([
        tarEntry({ name: 'root', type: '5' }),
        tarEntry({ name: 'root/link', type: '2', linkName: '..' }),
        tarEntry({ name: 'root/link/escaped.txt', content: 'x' })
      ]),
      'root/link/escaped.txt'
    ],
    paxNameUnderRoot('a ".." name in a PAX header', 'root/../../escaped.txt'),
    [
      'a duplicate entry',
      tarArchive([
        tarEntry({ name: 'root', type: '5' }),
        tarEntry({ name: 'root/a.txt', content: 'first' }),
        tarEntry({ name: 'root/a.txt', content: 'second' })
      ]),
      'root/a.txt'
    ],
    [
      'an archive cut short',
      tarArchive([tarEntry({ name: 'root', type: '5' }), tarEntry({ name: 'root/a.txt', content: 'x' })], {
        end: false
      }),
      ''
    ]
  ]

  it.each(cases)('%s: nothing is written, nothing is left', async (_, archive, entry) => {
    const folder = await fs.mkdtemp(path.join(work, 'case-'))
    const destination = path.join(folder, 'download')
    const failure = await craftedArchiveApi(archive)
      .download(cid, destination)
      .catch((error: unknown) => error as Error)
    expect(failure).toMatchObject({ name: 'UnsafeArchiveError', entry })
    expect(await fs.readdir(folder)).toEqual([])
    expect(existsSync(path.join(work, 'escaped.txt'))).toBe(false)
    expect(existsSync('/tmp/escaped.txt')).toBe(false)
  })

  it('the same builder makes an archive that unpacks (PAX names, symlinks, nested folders)', async () => {
    const destination = path.join(work, 'good')
    await craftedArchiveApi(
      tarArchive([
        tarEntry({ name: 'root', type: '5' }),
        tarEntry({ name: 'root/sub', type: '5' }),
        paxPath(`root/sub/${'x'.repeat(150)}.txt`),
        tarEntry({ name: 'root/sub/ignored', content: 'long name' }),
        tarEntry({ name: 'root/link', type: '2', linkName: 'sub' }),
        tarEntry({ name: 'root/a.txt', content: 'a'.repeat(1000) })
      ])
    ).download(cid, destination)
    expect(await snapshot(destination)).toEqual([
      { path: '', kind: 'directory' },
      { path: 'a.txt', kind: 'file', size: 1000, sha256: sha256(Buffer.from('a'.repeat(1000))) },
      { path: 'link', kind: 'symlink', target: 'sub' },
      { path: 'sub', kind: 'directory' },
      { path: `sub/${'x'.repeat(150)}.txt`, kind: 'file', size: 9, sha256: sha256(Buffer.from('long name')) }
    ])
  })
})
