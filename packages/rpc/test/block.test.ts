import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createBlockCommands } from '../src/commands/block.js'
import { createRootCommands } from '../src/commands/root.js'
import { all, collect, sha256, useKuboNode } from './helpers.js'

const HELLO_RAW_CID = 'bafkreidslqqccrmhwdonl67q3stdpecks6quf2e7jidpkx3ldepdgp3ldq'

const kubo = useKuboNode()
const { invoker } = kubo
const block = createBlockCommands(invoker)

describe('block', () => {
  it('put stores bytes as a raw CIDv1 block; stat and get read it back', async () => {
    const put = await block.put('hello block')
    expect(put).toEqual({ cid: HELLO_RAW_CID, size: 11 })
    expect(await block.stat(put.cid)).toEqual({ cid: HELLO_RAW_CID, size: 11 })
    expect(await block.stat(`/ipfs/${put.cid}`)).toEqual({ cid: HELLO_RAW_CID, size: 11 })
    expect(new TextDecoder().decode(await collect(block.get(put.cid)))).toBe('hello block')
  })

  it('put takes streams and honours cidCodec, mhtype, mhlen, format and cidBase', async () => {
    const bytes = randomBytes(100_000)
    const fromBytes = await block.put(bytes)
    const fromStream = await block.put(Readable.from([bytes.subarray(0, 4000), bytes.subarray(4000)]))
    expect(fromStream).toEqual(fromBytes)
    expect(fromBytes.size).toBe(100_000)
    expect(sha256(await collect(block.get(fromBytes.cid)))).toBe(sha256(bytes))

    expect((await block.put('hello block', { format: 'v0' })).cid).toBe(
      'QmW34fRkvb8VK1uda1LCTuN3qYzSxdZvVazrCsmrGc9oGo'
    )
    expect((await block.put('hello block', { cidCodec: 'dag-pb' })).cid).toBe(
      'bafybeidslqqccrmhwdonl67q3stdpecks6quf2e7jidpkx3ldepdgp3ldq'
    )
    const truncated = await block.put('hello block', { mhtype: 'sha2-512', mhlen: 20 })
    expect(await block.stat(truncated.cid, { cidBase: 'base16' })).toEqual({
      cid: expect.stringMatching(/^f01551314/),
      size: 11
    })
    expect((await block.put('hello block', { cidBase: 'base36' })).cid).toMatch(/^k/)
    const blake = await block.put('hello block', { mhtype: 'blake3' })
    expect(blake.cid).not.toBe(HELLO_RAW_CID)
    expect(new TextDecoder().decode(await collect(block.get(blake.cid)))).toBe('hello block')
  })

  it('put refuses blocks over 2 MiB unless allowBigBlock; pin pins the block', async () => {
    const big = randomBytes(2 * 1024 * 1024 + 1)
    await expect(block.put(big)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: expect.stringContaining('produced block is over 2MiB')
    })
    const allowed = await block.put(big, { allowBigBlock: true })
    expect(allowed.size).toBe(big.length)

    const pinned = await block.put(randomBytes(64), { pin: true })
    const pins = await invoker.json<{ Keys: Record<string, { Type: string }> }>(
      'pin/ls',
      {},
      { args: [pinned.cid] }
    )
    expect(pins.Keys[pinned.cid]?.Type).toBe('recursive')
    // A pinned block cannot be removed: Kubo reports it per CID and goes on with the others.
    const unpinned = await block.put(randomBytes(64))
    const results = await all(block.rm([pinned.cid, unpinned.cid]))
    expect(results).toEqual([{ cid: pinned.cid, error: 'pinned: recursive' }, { cid: unpinned.cid }])
    expect((await block.stat(pinned.cid)).cid).toBe(pinned.cid)
  })

  it('rm removes blocks; missing ones are errors unless force; quiet yields only errors', async () => {
    const data = randomBytes(200)
    const { cid } = await block.put(data)
    expect(await all(block.rm(cid))).toEqual([{ cid }])
    await expect(block.stat(cid, { offline: true })).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: `block was not found locally (offline): ipld: could not find ${cid}`
    })
    const local = await all(createRootCommands(invoker).refs.local())
    expect(local.map(ref => ref.ref)).not.toContain(cid)

    expect(await all(block.rm(cid))).toEqual([{ cid, error: `ipld: could not find ${cid}` }])
    expect(await all(block.rm(cid, { force: true }))).toEqual([{ cid }])

    const other = await block.put(randomBytes(200))
    expect(await all(block.rm([other.cid, cid], { quiet: true }))).toEqual([
      { cid, error: `ipld: could not find ${cid}` }
    ])
    await expect(collect(block.get(other.cid, { offline: true }))).rejects.toMatchObject({
      name: 'KuboRpcError'
    })
  })

  it('rejects bad input before any request', async () => {
    await expect(block.stat('not-a-cid')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cid'
    })
    await expect(collect(block.get(''))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cid'
    })
    await expect(all(block.rm([]))).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'cids' })
    await expect(all(block.rm([HELLO_RAW_CID, 'nope']))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cids'
    })
    await expect(block.put('x', { format: 'v0', cidCodec: 'dag-cbor' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'format'
    })
  })
})
