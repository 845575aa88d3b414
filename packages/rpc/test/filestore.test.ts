import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBlockCommands } from '../src/commands/block.js'
import { createFilestoreCommands, type FilestoreEntry } from '../src/commands/filestore.js'
import { createRootCommands } from '../src/commands/root.js'
import { httpTransport } from '../src/http-transport.js'
import { Invoker } from '../src/invoker.js'
import { all, collect, sha256 } from './helpers.js'

const CHUNK = 262_144

let node: KuboNode
let plainNode: KuboNode
let invoker: Invoker
let plainInvoker: Invoker
let filestore: ReturnType<typeof createFilestoreCommands>
let root: ReturnType<typeof createRootCommands>

beforeAll(async () => {
  ;[node, plainNode] = await Promise.all([
    createKuboNode({ config: { Experimental: { FilestoreEnabled: true } } }),
    createKuboNode()
  ])
  invoker = new Invoker(httpTransport({ apiUrl: node.apiUrl }))
  plainInvoker = new Invoker(httpTransport({ apiUrl: plainNode.apiUrl }))
  filestore = createFilestoreCommands(invoker)
  root = createRootCommands(invoker)
})

afterAll(async () => {
  await invoker?.transport.close()
  await plainInvoker?.transport.close()
  await Promise.all([node?.stop(), plainNode?.stop()])
})

/** `add --nocopy` through the client: `addPath` tells Kubo where each file lies on disk. */
async function addNoCopy(file: string): Promise<string> {
  return (await root.addPath(file, { nocopy: true, chunker: `size-${CHUNK}` })).cid
}

const byOffset = (entries: FilestoreEntry[]): FilestoreEntry[] =>
  [...entries].sort((a, b) => a.offset - b.offset)

describe('filestore', () => {
  it('is empty before anything is added with nocopy', async () => {
    await root.add(randomBytes(1000))
    expect(await all(filestore.ls())).toEqual([])
    expect(await all(filestore.verify())).toEqual([])
    expect(await all(filestore.dups())).toEqual([])
  })

  it('lists, verifies and finds duplicates of blocks added with nocopy, and notices changed and deleted files', async () => {
    // The filestore only takes files below its root, the folder that holds the repo.
    const file = path.join(path.dirname(node.repoPath), 'data.bin')
    const content = randomBytes(2 * CHUNK + 75_712)
    await fs.writeFile(file, content)
    const cid = await addNoCopy(file)
    expect(sha256(await collect(root.cat(cid)))).toBe(sha256(content))
    const leaves = (await all(root.refs(cid))).map(ref => ref.ref)
    expect(leaves).toHaveLength(3)

    const listed = byOffset(await all(filestore.ls()))
    expect(listed.map(entry => entry.cid).sort()).toEqual([...leaves].sort())
    expect(listed.map(({ cid: _cid, ...entry }) => entry)).toEqual([
      { status: 'ok', statusCode: 0, filePath: 'data.bin', offset: 0, size: CHUNK },
      { status: 'ok', statusCode: 0, filePath: 'data.bin', offset: CHUNK, size: CHUNK },
      { status: 'ok', statusCode: 0, filePath: 'data.bin', offset: 2 * CHUNK, size: 75_712 }
    ])
    // Each listed block is the slice of the file it points at.
    const block = createBlockCommands(invoker)
    for (const entry of listed) {
      expect(sha256(await collect(block.get(entry.cid)))).toBe(
        sha256(content.subarray(entry.offset, entry.offset + entry.size))
      )
    }
    expect((await all(filestore.ls({ fileOrder: true }))).map(entry => entry.offset)).toEqual([
      0,
      CHUNK,
      2 * CHUNK
    ])

    // Asking for CIDs: one in the filestore, one only in the blockstore, one that is no CID for Kubo.
    const first = listed[0]?.cid ?? ''
    const ordinary = (await block.put('not in the filestore')).cid
    const asked = await all(filestore.ls([first, ordinary]))
    expect(asked).toEqual([
      { status: 'ok', statusCode: 0, cid: first, filePath: 'data.bin', offset: 0, size: CHUNK },
      {
        status: 'missing',
        statusCode: 30,
        error: `ipld: could not find ${ordinary}`,
        cid: ordinary,
        filePath: '',
        offset: 0,
        size: 0
      }
    ])

    // The same bytes added the ordinary way (same chunks, raw leaves) are stored twice.
    expect(await all(filestore.dups())).toEqual([])
    await root.add(content, { rawLeaves: true, chunker: `size-${CHUNK}` })
    expect((await all(filestore.dups())).sort()).toEqual([...leaves].sort())

    // Change the first chunk of the file.
    const handle = await fs.open(file, 'r+')
    await handle.write(Buffer.from('XXXX'), 0, 4, 10)
    await handle.close()
    const verified = byOffset(await all(filestore.verify({ fileOrder: true })))
    expect(verified.map(entry => [entry.status, entry.statusCode, entry.error])).toEqual([
      ['changed', 12, 'data in file did not match. data.bin offset 0'],
      ['ok', 0, undefined],
      ['ok', 0, undefined]
    ])
    expect((await all(filestore.verify(first))).map(entry => entry.status)).toEqual(['changed'])

    const cleaned = byOffset(await all(filestore.verify({ removeBadBlocks: true })))
    expect(cleaned.map(entry => entry.status)).toEqual(['changed', 'ok', 'ok'])
    expect(byOffset(await all(filestore.ls())).map(entry => entry.offset)).toEqual([CHUNK, 2 * CHUNK])

    await fs.rm(file)
    const gone = await all(filestore.verify())
    expect(gone.map(entry => entry.status)).toEqual(['no-file', 'no-file'])
    expect(gone[0]?.error).toContain('no such file or directory')
  })

  it("fails with Kubo's error where the filestore is not enabled", async () => {
    const plain = createFilestoreCommands(plainInvoker)
    const expected = {
      name: 'KuboRpcError',
      kuboMessage: 'filestore is not enabled, see https://git.io/vNItf'
    }
    await expect(all(plain.ls())).rejects.toMatchObject(expected)
    await expect(all(plain.verify())).rejects.toMatchObject(expected)
    await expect(all(plain.dups())).rejects.toMatchObject(expected)
  })

  it('rejects arguments that are not CIDs before any request', async () => {
    await expect(all(filestore.ls('nope'))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cids'
    })
    await expect(
      all(filestore.verify(['bafkreidslqqccrmhwdonl67q3stdpecks6quf2e7jidpkx3ldepdgp3ldq', '']))
    ).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cids'
    })
  })
})
