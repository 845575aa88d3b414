import { randomBytes } from 'node:crypto'
import { createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { createFilesCommands } from '../src/commands/files.js'
import { createRootCommands } from '../src/commands/root.js'
import { httpTransport } from '../src/http-transport.js'
import { Invoker } from '../src/invoker.js'
import { collect, sha256, useKuboNode } from './helpers.js'

const decoder = new TextDecoder()

describe('files (MFS)', () => {
  const kubo = useKuboNode()
  const files = createFilesCommands(kubo.invoker)
  const root = createRootCommands(kubo.invoker)

  const readText = async (path: string, options: { offset?: number; count?: number } = {}): Promise<string> =>
    decoder.decode(await collect(files.read(path, options)))

  it('write creates a file that read returns; offset, truncate and count change it as in Kubo', async () => {
    await files.write('/notes/hello.txt', 'hello world', { create: true, parents: true })
    expect(await readText('/notes/hello.txt')).toBe('hello world')

    await files.write('/notes/hello.txt', new TextEncoder().encode('WORLD'), { offset: 6 })
    expect(await readText('/notes/hello.txt')).toBe('hello WORLD')
    expect(await readText('/notes/hello.txt', { offset: 6, count: 3 })).toBe('WOR')

    await files.write('/notes/hello.txt', 'abcdef', { truncate: true, count: 4 })
    expect(await readText('/notes/hello.txt')).toBe('abcd')
    const stat = await files.stat('/notes/hello.txt')
    expect(stat).toMatchObject({ size: 4, type: 'file' })

    // Without `create`, a missing file is an error.
    await expect(files.write('/notes/missing.txt', 'x')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'file does not exist'
    })
  })

  it('streams a multi-MiB write from an async generator and reads back the same bytes', async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 123)
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < bytes.length; offset += 64 * 1024)
        yield bytes.subarray(offset, offset + 64 * 1024)
    }
    await files.write('/big/deep/blob.bin', chunks(), {
      create: true,
      parents: true,
      cidVersion: 1,
      rawLeaves: true
    })
    const read = await collect(files.read('/big/deep/blob.bin'))
    expect(read.byteLength).toBe(bytes.byteLength)
    expect(sha256(read)).toBe(sha256(bytes))

    const stat = await files.stat('/big/deep/blob.bin')
    expect(stat.type).toBe('file')
    expect(stat.size).toBe(bytes.byteLength)
    expect(stat.cumulativeSize).toBeGreaterThan(bytes.byteLength)
    expect(stat.blocks).toBeGreaterThan(1)
    expect(stat.cid).toMatch(/^bafy/)

    const slice = await collect(files.read('/big/deep/blob.bin', { offset: 1_000_000, count: 70_000 }))
    expect(sha256(slice)).toBe(sha256(bytes.subarray(1_000_000, 1_070_000)))
  })

  it('mkdir creates directories (parents with `parents`); ls and stat show them', async () => {
    await files.mkdir('/tree/a/b/c', { parents: true })
    expect(await files.ls('/tree/a/b')).toEqual([{ name: 'c' }])
    expect(await files.stat('/tree/a/b/c')).toMatchObject({ type: 'directory', size: 0, blocks: 0 })

    // Without `parents`, an existing directory is an error and a missing parent is too.
    await expect(files.mkdir('/tree/a')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'file already exists'
    })
    await expect(files.mkdir('/nowhere/x')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'file does not exist'
    })
    await files.mkdir('/tree/a', { parents: true })
    expect(await files.ls('/tree/a')).toEqual([{ name: 'b' }])
  })

  it('cp copies /ipfs/<cid> into MFS with the same CID; mv moves it; ls (long, unsorted) lists entries', async () => {
    const added = await root.add('copied from IPFS')
    await files.cp(`/ipfs/${added.cid}`, '/docs/copy.txt', { parents: true })
    expect((await files.stat('/docs/copy.txt')).cid).toBe(added.cid)
    expect(await readText('/docs/copy.txt')).toBe('copied from IPFS')

    // cp within MFS, then cp onto an existing file needs `force`.
    await files.cp('/docs/copy.txt', '/docs/a-second.txt')
    await expect(files.cp('/docs/copy.txt', '/docs/a-second.txt')).rejects.toMatchObject({
      name: 'KuboRpcError'
    })
    await files.cp('/docs/copy.txt', '/docs/a-second.txt', { force: true })

    await files.mv('/docs/copy.txt', '/docs/moved.txt')
    await files.mkdir('/docs/sub')
    await expect(files.stat('/docs/copy.txt')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'file does not exist'
    })
    expect(await readText('/docs/moved.txt')).toBe('copied from IPFS')

    expect(await files.ls('/docs')).toEqual([
      { name: 'a-second.txt' },
      { name: 'moved.txt' },
      { name: 'sub' }
    ])
    const long = await files.ls('/docs', { long: true })
    expect(long).toEqual([
      { name: 'a-second.txt', type: 'file', size: 16, cid: added.cid },
      { name: 'moved.txt', type: 'file', size: 16, cid: added.cid },
      { name: 'sub', type: 'directory', size: 0, cid: (await files.stat('/docs/sub')).cid }
    ])
    const unsorted = await files.ls('/docs', { unsorted: true })
    expect(unsorted.map(entry => entry.name).sort()).toEqual(['a-second.txt', 'moved.txt', 'sub'])
    // Listing a file lists the file itself.
    expect(await files.ls('/docs/moved.txt', { long: true })).toEqual([
      { name: 'moved.txt', type: 'file', size: 16, cid: added.cid }
    ])
    // The default path is /.
    expect((await files.ls()).map(entry => entry.name)).toContain('docs')
    expect((await files.ls({ long: true })).find(entry => entry.name === 'docs')?.type).toBe('directory')
  })

  it('stat reports CID, sizes and type for MFS and /ipfs/ paths, and locality with `withLocal`', async () => {
    const added = await root.add('stat me')
    await files.cp(`/ipfs/${added.cid}`, '/stat-me.txt')
    const stat = await files.stat('/stat-me.txt', { withLocal: true })
    expect(stat).toEqual({
      cid: added.cid,
      size: 7,
      cumulativeSize: 15,
      blocks: 0,
      type: 'file',
      local: true,
      sizeLocal: 15
    })
    expect(await files.stat(`/ipfs/${added.cid}`)).toEqual({
      cid: added.cid,
      size: 7,
      cumulativeSize: 15,
      blocks: 0,
      type: 'file'
    })
  })

  it('chmod and touch are reflected in stat', async () => {
    await files.write('/meta.txt', 'metadata', { create: true })
    const before = await files.stat('/meta.txt')
    expect(before.mode).toBeUndefined()
    expect(before.mtime).toBeUndefined()

    await files.chmod(0o640, '/meta.txt')
    expect((await files.stat('/meta.txt')).mode).toBe(0o640)
    await files.chmod('0755', '/meta.txt')
    expect((await files.stat('/meta.txt')).mode).toBe(0o755)
    // Kubo reports a directory's mode with Go's directory bit set; the result holds only POSIX bits.
    await files.mkdir('/modes')
    await files.chmod(0o750, '/modes')
    expect((await files.stat('/modes')).mode).toBe(0o750)

    const when = new Date('2021-09-06T14:18:46.250Z')
    await files.touch('/meta.txt', { mtime: when })
    expect((await files.stat('/meta.txt')).mtime?.getTime()).toBe(when.getTime())
    await files.touch('/meta.txt', { mtime: 1630937926, mtimeNsecs: 5_000_000 })
    expect((await files.stat('/meta.txt')).mtime?.getTime()).toBe(1630937926_005)

    const start = Date.now()
    await files.touch('/meta.txt')
    const now = (await files.stat('/meta.txt')).mtime?.getTime() ?? 0
    expect(now).toBeGreaterThanOrEqual(start - 1000)
    expect(now).toBeLessThanOrEqual(Date.now() + 1000)

    // Content is unchanged; the CID changes because mode and mtime are part of the node.
    expect(await readText('/meta.txt')).toBe('metadata')
    expect((await files.stat('/meta.txt')).cid).not.toBe(before.cid)
    await expect(files.touch('/no-such-file')).rejects.toMatchObject({ kuboMessage: 'file does not exist' })
  })

  it('rm removes files, directories only with `recursive`, and names each path it could not remove', async () => {
    await files.write('/trash/one.txt', '1', { create: true, parents: true })
    await files.write('/trash/dir/two.txt', '2', { create: true, parents: true })
    await files.rm('/trash/one.txt')
    expect(await files.ls('/trash')).toEqual([{ name: 'dir' }])

    const error = await files.rm(['/trash/dir', '/trash/nothing']).catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        "can't remove some files: /trash/dir: path is a directory, use -r to remove directories; /trash/nothing: file does not exist"
    })

    await files.rm('/trash/dir', { recursive: true })
    expect(await files.ls('/trash')).toEqual([])
    // `force` does not fail on what is not there.
    await files.rm('/trash/nothing', { force: true })
    await files.rm('/trash', { recursive: true })
    expect((await files.ls()).map(entry => entry.name)).not.toContain('trash')
  })

  it('chcid changes the CID version of a directory, not its content', async () => {
    await files.mkdir('/versioned', { cidVersion: 0 })
    await files.write('/versioned/file.txt', 'same content', { create: true })
    const before = await files.stat('/versioned')
    expect(before.cid).toMatch(/^Qm/)

    await files.chcid('/versioned', { cidVersion: 1 })
    const after = await files.stat('/versioned')
    expect(after.cid).toMatch(/^bafy/)
    expect(after.cid).not.toBe(before.cid)
    expect(await files.ls('/versioned')).toEqual([{ name: 'file.txt' }])
    expect(await readText('/versioned/file.txt')).toBe('same content')

    await expect(files.chcid('/', { cidVersion: 1 })).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        "cannot change CID format of the MFS root; use 'ipfs config Import.CidVersion' and 'ipfs config Import.HashFunction' instead"
    })
  })

  it('flush returns the CID of the root (or of a path) and writes deferred changes through', async () => {
    const rootCid = await files.flush()
    expect(rootCid).toBe((await files.stat('/')).cid)

    await files.mkdir('/deferred', { flush: false })
    await files.write('/deferred/late.txt', 'late', { create: true, flush: false })
    const flushedDirectory = await files.flush('/deferred')
    expect(flushedDirectory).toBe((await files.stat('/deferred')).cid)
    const newRoot = await files.flush({ timeout: 10_000 })
    expect(newRoot).not.toBe(rootCid)
    expect(newRoot).toBe((await files.stat('/')).cid)
    // The flushed root, read as content, holds the deferred file.
    expect(decoder.decode(await collect(root.cat(`/ipfs/${newRoot}/deferred/late.txt`)))).toBe('late')
  })

  it('rejects bad input before any request', async () => {
    await expect(files.write('relative.txt', 'x')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'path'
    })
    await expect(files.cp('/ipfs/not-a-cid', '/x')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'source'
    })
    await expect(files.mv('/a', 'b')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'dest'
    })
    await expect(files.chmod('rwx', '/meta.txt')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'mode'
    })
    await expect(files.rm([])).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'path' })
    await expect(files.write('/x', null as unknown as string)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'content'
    })
    expect(() => files.read('/x', { offset: -1 })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', argument: 'offset' })
    )
  })
})

describe('files ls in a sharded (HAMT) directory', () => {
  // With a 1-byte sharding threshold every MFS directory becomes a HAMT shard, whose own order is
  // by hash, not by name: the one case where `unsorted` changes what ls returns.
  it('sorts by name unless `unsorted`, which keeps the directory order', async () => {
    await using node = await createKuboNode({
      config: { Import: { UnixFSHAMTDirectorySizeThreshold: '1B' } }
    })
    const invoker = new Invoker(httpTransport({ apiUrl: node.apiUrl }))
    try {
      const files = createFilesCommands(invoker)
      const names = Array.from({ length: 12 }, (_, index) => `entry-${String(index).padStart(2, '0')}`)
      await files.mkdir('/sharded')
      for (const name of names) await files.write(`/sharded/${name}`, name, { create: true })

      expect((await files.ls('/sharded')).map(entry => entry.name)).toEqual(names)
      const unsorted = (await files.ls('/sharded', { unsorted: true })).map(entry => entry.name)
      expect([...unsorted].sort()).toEqual(names)
      expect(unsorted).not.toEqual(names)
    } finally {
      await invoker.transport.close()
    }
  })
})
