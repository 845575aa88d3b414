import fs from 'node:fs/promises'
import path from 'node:path'
import { createKuboClient, type KuboClient } from '@tk/rpc'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseHumanBytes } from '../src/cli-output.js'
import { all, cliClientOf, collect } from './helpers.js'

/** A CID of bytes nobody has added. */
const MISSING = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'

/**
 * Commands whose CLI prints text (or reports items on stderr) whatever `--enc` says: the same call
 * over HTTP and through `ipfs` on one node must give the same typed result.
 */
describe('CLI output adapters match HTTP', () => {
  let node: KuboNode
  let http: KuboClient
  let cli: KuboClient

  beforeAll(async () => {
    node = await createKuboNode({ config: { Experimental: { FilestoreEnabled: true } } })
    http = createKuboClient({ apiUrl: node.apiUrl })
    cli = cliClientOf(node)
  })

  afterAll(async () => {
    await cli?.close()
    await http?.close()
    await node?.stop()
  })

  it('block rm: removed and refused blocks, in argument order', async () => {
    const pinned = (await http.add('pinned block')).cid
    const removeThrough = async (client: KuboClient) => {
      const first = (await http.block.put('loose block one')).cid
      const second = (await http.block.put('loose block two')).cid
      return await all(client.block.rm([first, pinned, MISSING, second]))
    }
    const overHttp = await removeThrough(http)
    const throughCli = await removeThrough(cli)
    expect(throughCli).toEqual(overHttp)
    expect(overHttp.map(result => [result.cid, result.error])).toEqual([
      [expect.stringMatching(/^bafkrei/), undefined],
      [pinned, 'pinned: recursive'],
      [MISSING, `ipld: could not find ${MISSING}`],
      [expect.stringMatching(/^bafkrei/), undefined]
    ])
    // Only refusals: the CLI prints nothing on stdout and exits with "some blocks not removed".
    expect(await all(cli.block.rm([pinned]))).toEqual(await all(http.block.rm([pinned])))
    // Nothing to report with `quiet` when every block goes.
    const quiet = (await http.block.put('quiet block')).cid
    expect(await all(cli.block.rm(quiet, { quiet: true }))).toEqual([])
    const stat = await http
      .request('block/stat', { args: [quiet], options: { offline: true } })
      .then(async response => await response.json())
      .catch((error: Error & { kuboMessage?: string }) => error.kuboMessage)
    expect(stat).toMatch(/not found/)
  })

  it('stats bw: totals and rates, once and polled', async () => {
    // A lone node has no peers, so nothing moves between the two calls.
    expect(await cli.stats.bw()).toEqual(await http.stats.bw())
    const firstReading = async (client: KuboClient) => {
      for await (const reading of client.stats.bw({ poll: true, interval: '100ms' })) return reading
      throw new Error('no reading')
    }
    expect(await firstReading(cli)).toEqual(await firstReading(http))
    // What the CLI prints: go-humanize's SI units, rounded to two or three digits.
    expect(['0 B', '9 B', '999 B', '1.2 kB', '45 MB', '3.0 GB'].map(parseHumanBytes)).toEqual([
      0, 9, 999, 1200, 45_000_000, 3_000_000_000
    ])
  })

  it('dag stat: per root and shared totals, with and without progress', async () => {
    const tree = await all(
      http.addAll([
        { path: 'stat/a.txt', content: 'shared content' },
        { path: 'stat/b.txt', content: 'other content' }
      ])
    )
    const root = tree.find(entry => entry.name === 'stat')?.cid ?? ''
    const leaf = tree.find(entry => entry.name === 'stat/a.txt')?.cid ?? ''
    const overHttp = await http.dag.stat([root, leaf])
    expect(await cli.dag.stat([root, leaf])).toEqual(overHttp)
    expect(overHttp.dagStats.map(stat => [stat.cid, stat.numBlocks])).toEqual([
      [root, 3],
      [leaf, 1]
    ])
    expect(overHttp.sharedSize).toBe(overHttp.dagStats[1]?.size)
    const progress: number[] = []
    const withProgress = await cli.dag.stat([root, leaf], {
      onProgress: summary => progress.push(summary.totalSize)
    })
    expect(withProgress).toEqual(overHttp)
    // The CLI prints running totals as a progress line on stderr, not as results.
    expect(progress).toEqual([])
  })

  it('dag export: the same CAR bytes', async () => {
    const tree = await all(
      http.addAll([
        { path: 'car/one.txt', content: 'first file of the CAR' },
        { path: 'car/two.txt', content: new Uint8Array(300_000).map((_, index) => index % 7) }
      ])
    )
    const root = tree.find(entry => entry.name === 'car')?.cid ?? ''
    const overHttp = Buffer.from(await collect(http.dag.export(root)))
    expect(Buffer.from(await collect(cli.dag.export(root))).equals(overHttp)).toBe(true)
    expect(overHttp.byteLength).toBeGreaterThan(300_000)
    expect(overHttp.includes('first file of the CAR')).toBe(true)
  })

  it('filestore ls and verify: entries with status, file, offset and size', async () => {
    // The filestore only references files under the folder holding the repo.
    const root = path.dirname(node.repoPath)
    const big = path.join(root, 'big file.bin')
    const small = path.join(root, 'small.bin')
    await fs.writeFile(
      big,
      new Uint8Array(300_000).map((_, index) => index % 251)
    )
    await fs.writeFile(small, 'small file in the filestore')
    await http.addPath(big, { nocopy: true, chunker: 'size-100000' })
    const smallCid = (await http.addPath(small, { nocopy: true, rawLeaves: true })).cid

    const listed = await all(http.filestore.ls())
    expect(listed.map(entry => [entry.filePath, entry.offset, entry.size, entry.status]).sort()).toEqual([
      ['big file.bin', 0, 100_000, 'ok'],
      ['big file.bin', 100_000, 100_000, 'ok'],
      ['big file.bin', 200_000, 100_000, 'ok'],
      ['small.bin', 0, 27, 'ok']
    ])
    expect(await all(cli.filestore.ls())).toEqual(listed)
    expect(await all(cli.filestore.ls({ fileOrder: true }))).toEqual(
      await all(http.filestore.ls({ fileOrder: true }))
    )
    expect(await all(cli.filestore.ls(smallCid))).toEqual(await all(http.filestore.ls(smallCid)))

    await fs.writeFile(small, 'the small file has changed')
    await fs.rm(big)
    const verified = await all(http.filestore.verify())
    expect(verified.map(entry => [entry.filePath, entry.offset, entry.status]).sort()).toEqual([
      ['big file.bin', 0, 'no-file'],
      ['big file.bin', 100_000, 'no-file'],
      ['big file.bin', 200_000, 'no-file'],
      ['small.bin', 0, 'changed']
    ])
    // The CLI prints the status but not the error text of these entries.
    const withoutError = verified.map(({ error: _, ...entry }) => entry)
    expect(await all(cli.filestore.verify())).toEqual(withoutError)
    const byArgs = await all(http.filestore.verify([smallCid, MISSING]))
    expect(byArgs.map(entry => [entry.status, entry.cid])).toEqual([
      ['changed', smallCid],
      ['missing', MISSING]
    ])
    expect(await all(cli.filestore.verify([smallCid, MISSING]))).toEqual(
      byArgs.map(({ error: _, ...entry }) => entry)
    )
    // An argument that is no CID is an internal error; its text is on the CLI's stderr, so it stays.
    const raw = async (client: KuboClient) =>
      await all((await client.request('filestore/verify', { args: ['not-a-cid', smallCid] })).ndjson())
    const rawOverHttp = await raw(http)
    expect(rawOverHttp[0]).toMatchObject({
      Status: 20,
      Key: null,
      ErrorMsg: expect.stringMatching(/^not-a-cid: /)
    })
    expect(await raw(cli)).toEqual([rawOverHttp[0], { ...(rawOverHttp[1] as object), ErrorMsg: '' }])
  })

  it('cid format, base32, bases, codecs, hashes and inspect', async () => {
    const cids = ['QmUJsmebxb2yC8gobScXReXXuWNpEiT7DcgaD26DDzjv7e', 'not a cid', MISSING, 'bad: colon']
    const formatted = await all(http.cid.format(cids, { base: 'base16' }))
    expect(await all(cli.cid.format(cids, { base: 'base16' }))).toEqual(formatted)
    expect(formatted.map(result => [result.cid, result.formatted === '', result.error != null])).toEqual([
      [cids[0], false, false],
      [cids[1], true, true],
      [cids[2], false, false],
      [cids[3], true, true]
    ])
    expect(formatted[0]?.formatted).toBe(
      'f0170122058b1ba67df1de6db2d24f53631812271eedebd27e98bcdea72d407277b11b515'
    )
    expect(await all(cli.cid.format(cids, { format: '%b %c %s', version: 1 }))).toEqual(
      await all(http.cid.format(cids, { format: '%b %c %s', version: 1 }))
    )
    const base32 = await all(http.cid.base32(cids))
    expect(await all(cli.cid.base32(cids))).toEqual(base32)
    expect(base32[0]?.formatted).toBe('bafybeicywg5gpxy543ns2jhvgyyycitr53pl2j7jrpg6u4wua4txwenvcu')

    const bases = await http.cid.bases()
    expect(await cli.cid.bases()).toEqual(bases)
    expect(bases.find(base => base.name === 'base32')?.prefix).toBe('b')
    const codecs = await http.cid.codecs({ supported: true })
    expect(await cli.cid.codecs({ supported: true })).toEqual(codecs)
    expect(codecs).toContainEqual({ name: 'dag-cbor', code: 0x71 })
    expect(await cli.cid.codecs()).toEqual(await http.cid.codecs())
    const hashes = await http.cid.hashes()
    expect(await cli.cid.hashes()).toEqual(hashes)
    expect(hashes).toContainEqual({ name: 'sha2-256', code: 0x12 })

    const inspected = await http.cid.inspect(cids[0] ?? '')
    expect(await cli.cid.inspect(cids[0] ?? '')).toEqual(inspected)
    expect(inspected.cidV1).toBe(base32[0]?.formatted)
    const refusal = async (client: KuboClient) =>
      await client.cid.inspect('not a cid').catch((error: Error & { kuboMessage?: string }) => ({
        name: error.name,
        kuboMessage: error.kuboMessage
      }))
    expect(await refusal(cli)).toEqual(await refusal(http))
  })

  it('config profile apply (dry run): the config before and after', async () => {
    const overHttp = await http.config.profile.apply('lowpower', { dryRun: true })
    expect(await cli.config.profile.apply('lowpower', { dryRun: true })).toEqual(overHttp)
    expect(overHttp.newConfig).not.toEqual(overHttp.oldConfig)
    expect((overHttp.newConfig as { Routing: { Type: string } }).Routing.Type).toBe('autoclient')
  })
})
