import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { createRepoCommands } from '../src/commands/repo.js'
import { createRootCommands } from '../src/commands/root.js'
import { all, useKuboNode } from './helpers.js'

const RAW_CODEC = 0x55

/** The repo keys blocks by multihash, and repo ls/gc report every block as a raw CIDv1. */
function asRawCid(cid: string): string {
  return CID.createV1(RAW_CODEC, CID.parse(cid).multihash).toString()
}

describe('repo', () => {
  const kubo = useKuboNode()
  const { invoker } = kubo
  const repo = createRepoCommands(invoker)
  const root = createRootCommands(invoker)

  // `block stat` with Kubo's global `offline` option: fails at once instead of searching the network.
  const blockStat = async (cid: string): Promise<{ Key: string; Size: number }> =>
    await invoker.json('block/stat', {}, { args: [cid], options: { offline: true } })

  it('stat reports the repo path, version, object count and sizes; sizeOnly leaves out the rest', async () => {
    const before = await repo.stat()
    expect(before.repoPath).toBe(kubo.node.repoPath)
    expect(before.version).toBe(`fs-repo@${await repo.version()}`)
    expect(before.repoSize).toBeGreaterThan(0)
    // testkit's repos keep Kubo's default Datastore.StorageMax of 10GB.
    expect(before.storageMax).toBe(10_000_000_000)

    expect(before.numObjects).toBe((await all(repo.ls())).length)
    await root.add('one more block for stat')
    const after = await repo.stat()
    // `add` may store more than the file's block (Kubo's adder writes its own directory nodes too).
    expect(after.numObjects).toBeGreaterThan(before.numObjects ?? 0)
    expect(after.numObjects).toBe((await all(repo.ls())).length)
    expect(after.repoSize).toBeGreaterThanOrEqual(before.repoSize)

    const sizeOnly = await repo.stat({ sizeOnly: true })
    expect(Object.keys(sizeOnly).sort()).toEqual(['repoSize', 'storageMax'])
    expect(sizeOnly.storageMax).toBe(10_000_000_000)
  })

  it('version is the repo format number', async () => {
    expect(await repo.version()).toBe(18)
  })

  it('ls lists every block as a raw CIDv1, including what was just added', async () => {
    const added = await root.add('listed by repo ls', { pin: false })
    const blocks = await all(repo.ls())
    expect(blocks).toContain(asRawCid(added.cid))
    expect(blocks.every(cid => cid.startsWith('bafkrei'))).toBe(true)
    expect(new Set(blocks).size).toBe(blocks.length)
  })

  it('gc removes unpinned content (block stat then fails) and keeps pinned content', async () => {
    const unpinned = await root.add('garbage to collect', { pin: false, cidVersion: 1, rawLeaves: true })
    const pinned = await root.add('kept because pinned')
    expect((await blockStat(unpinned.cid)).Key).toBe(unpinned.cid)

    const removed = await all(repo.gc())
    expect(removed).toContainEqual({ cid: unpinned.cid })
    expect(removed.every(item => typeof item.cid === 'string' && item.error === undefined)).toBe(true)
    expect(removed.map(item => item.cid)).not.toContain(asRawCid(pinned.cid))

    await expect(blockStat(unpinned.cid)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: `block was not found locally (offline): ipld: could not find ${unpinned.cid}`
    })
    expect((await blockStat(pinned.cid)).Key).toBe(pinned.cid)
    expect(await all(repo.ls())).not.toContain(unpinned.cid)

    // Nothing is left to collect; `silent` and `streamErrors` also work on an empty run.
    expect(await all(repo.gc({ streamErrors: true }))).toEqual([])
    await root.add('silently collected', { pin: false, cidVersion: 1, rawLeaves: true })
    expect(await all(repo.gc({ silent: true }))).toEqual([])
    expect(await all(repo.gc())).toEqual([])
  })

  it('verify checks every block, counting them, and ends with the summary', async () => {
    const blocks = (await all(repo.ls())).length
    const lines = await all(repo.verify())
    const progress = lines.filter(line => line.message === '')
    expect(progress.map(line => line.progress)).toEqual(
      Array.from({ length: blocks }, (_, index) => index + 1)
    )
    expect(lines.at(-1)).toEqual({ progress: 0, message: 'verify complete, all blocks validated.' })
    expect(lines.filter(line => line.message !== '')).toHaveLength(1)

    // `drop` with a heal timeout is accepted on a healthy repo and changes nothing.
    const dropped = await all(repo.verify({ drop: true, healTimeout: 5_000 }))
    expect(dropped.at(-1)?.message).toBe('verify complete, all blocks validated.')
    expect((await all(repo.ls())).length).toBe(blocks)
  })

  it('rejects bad input before any request', async () => {
    await expect(all(repo.verify({ healTimeout: -1 }))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'healTimeout'
    })
    // A Go duration string is passed through, so Kubo judges it.
    await expect(all(repo.verify({ healTimeout: 'soon' }))).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'invalid heal-timeout: time: invalid duration "soon"'
    })
  })
})
