import { describe, expect, it } from 'vitest'
import { createCidCommands } from '../src/commands/cid.js'
import { all, useKuboNode } from './helpers.js'

// The same content ("hello block") as a dag-pb CIDv0, its CIDv1, and as a raw block.
const V0 = 'QmW34fRkvb8VK1uda1LCTuN3qYzSxdZvVazrCsmrGc9oGo'
const V1 = 'bafybeidslqqccrmhwdonl67q3stdpecks6quf2e7jidpkx3ldepdgp3ldq'
const RAW = 'bafkreidslqqccrmhwdonl67q3stdpecks6quf2e7jidpkx3ldepdgp3ldq'
const DIGEST = '725c20214587b0dcd5fbf0dca637904a97a142e89f4a06f55f6b191e333f6b1c'
// V0 converted to CIDv1 but still in base58btc, as Kubo keeps the base unless told otherwise.
const V1_BASE58 = 'zdj7Wd8K2rpn4c6BjDZJkHpLHCcTmBtgAz4MuQNsgAX63ihSj'
const PEER_ID = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'

const kubo = useKuboNode()
const cid = createCidCommands(kubo.invoker)

describe('cid inspect', () => {
  it('breaks CIDv0 and CIDv1 apart', async () => {
    expect(await cid.inspect(V0)).toEqual({
      cid: V0,
      version: 0,
      multibase: { prefix: 'z', name: 'base58btc' },
      multicodec: { code: 0x70, name: 'dag-pb' },
      multihash: { code: 0x12, name: 'sha2-256', length: 32, digest: DIGEST },
      cidV0: V0,
      cidV1: V1
    })
    const raw = await cid.inspect(RAW)
    expect(raw).toEqual({
      cid: RAW,
      version: 1,
      multibase: { prefix: 'b', name: 'base32' },
      multicodec: { code: 0x55, name: 'raw' },
      multihash: { code: 0x12, name: 'sha2-256', length: 32, digest: DIGEST },
      cidV1: RAW
    })
    expect('cidV0' in raw).toBe(false)
    // Kubo reads any multibase, base16 included.
    expect((await cid.inspect(`f01701220${DIGEST}`)).cidV1).toBe(V1)
  })

  it("throws Kubo's error for what is not a CID, with its hint for a peer id", async () => {
    await expect(cid.inspect('nonsense')).rejects.toMatchObject({
      name: 'KuboRpcError',
      command: 'cid/inspect',
      kuboMessage: 'invalid CID: invalid cid: selected encoding not supported'
    })
    await expect(cid.inspect(PEER_ID)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        'invalid CID: invalid cid: selected encoding not supported\nNote: the value is a PeerID; inspect its CID representation instead:\n  k51qzi5uqu5diuci8bva7narzo109juvlfbckhzf3j2ljua2979b21rs6uyquk'
    })
  })
})

describe('cid format and base32', () => {
  it('converts version, codec and base, and fills templates', async () => {
    expect(await all(cid.format(V0))).toEqual([{ cid: V0, formatted: V0 }])
    expect(await all(cid.format(V0, { version: 1 }))).toEqual([{ cid: V0, formatted: V1_BASE58 }])
    expect(await all(cid.format(V0, { version: 1, base: 'base32' }))).toEqual([{ cid: V0, formatted: V1 }])
    expect(await all(cid.format(V1, { version: 0 }))).toEqual([{ cid: V1, formatted: V0 }])
    expect(await all(cid.format(V0, { codec: 'raw', base: 'base32' }))).toEqual([{ cid: V0, formatted: RAW }])
    expect(await all(cid.format(V0, { base: 'base16' }))).toEqual([
      { cid: V0, formatted: `f01701220${DIGEST}` }
    ])
    expect(await all(cid.format([V0, RAW], { format: '%v-%c-%h' }))).toEqual([
      { cid: V0, formatted: 'cidv0-dag-pb-sha2-256' },
      { cid: RAW, formatted: 'cidv1-raw-sha2-256' }
    ])
    expect(await all(cid.format(V0, { format: '%P' }))).toEqual([
      { cid: V0, formatted: 'cidv0-dag-pb-sha2-256-32' }
    ])
  })

  it('reports a bad CID per item and goes on; a bad option fails the call', async () => {
    expect(await all(cid.format(['bad', V0], { version: 1 }))).toEqual([
      {
        cid: 'bad',
        formatted: '',
        error: 'invalid cid: invalid cid: expected 1 as the cid version number, got: 0'
      },
      { cid: V0, formatted: V1_BASE58 }
    ])
    expect(await all(cid.format(RAW, { version: 0 }))).toEqual([
      { cid: RAW, formatted: '', error: "can't convert non-dag-pb nodes to cidv0" }
    ])
    await expect(all(cid.format(V0, { base: 'base999' }))).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'unsupported multibase encoding: base999'
    })
    await expect(all(cid.format(V0, { version: 0, codec: 'raw' }))).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'cannot convert to CIDv0 with any codec other than dag-pb'
    })
  })

  it('base32 normalizes CIDs to CIDv1 base32', async () => {
    expect(await all(cid.base32([V0, `f01551220${DIGEST}`, 'x']))).toEqual([
      { cid: V0, formatted: V1 },
      { cid: `f01551220${DIGEST}`, formatted: RAW },
      { cid: 'x', formatted: '', error: expect.stringContaining('invalid cid') }
    ])
  })
})

describe('cid bases, codecs, hashes', () => {
  it('lists bases with their prefixes, codecs and hash functions, sorted by code', async () => {
    const bases = await cid.bases()
    expect(bases).toContainEqual({ name: 'base32', code: 98, prefix: 'b' })
    expect(bases).toContainEqual({ name: 'base58btc', code: 122, prefix: 'z' })
    expect(bases.map(base => base.code)).toEqual([...bases.map(base => base.code)].sort((a, b) => a - b))

    const codecs = await cid.codecs()
    const supported = await cid.codecs({ supported: true })
    expect(supported).toEqual([
      { name: 'cbor', code: 0x51 },
      { name: 'raw', code: 0x55 },
      { name: 'dag-pb', code: 0x70 },
      { name: 'dag-cbor', code: 0x71 },
      { name: 'libp2p-key', code: 0x72 },
      { name: 'git-raw', code: 0x78 },
      { name: 'dag-jose', code: 0x85 },
      { name: 'dag-json', code: 0x0129 },
      { name: 'json', code: 0x0200 }
    ])
    expect(codecs.length).toBeGreaterThan(supported.length)
    for (const codec of supported) expect(codecs).toContainEqual(codec)

    const hashes = await cid.hashes()
    expect(hashes).toContainEqual({ name: 'sha2-256', code: 0x12 })
    expect(hashes).toContainEqual({ name: 'blake3', code: 0x1e })
    expect(hashes.map(hash => hash.name)).not.toContain('md5')
  })
})

describe('cid bad input', () => {
  it('rejects empty CIDs and format strings without a placeholder before any request', async () => {
    await expect(cid.inspect('')).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'cid' })
    await expect(all(cid.format([]))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cids'
    })
    await expect(all(cid.base32([V0, ' ']))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cids'
    })
    await expect(all(cid.format(V0, { format: 'plain' }))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'format'
    })
  })
})
