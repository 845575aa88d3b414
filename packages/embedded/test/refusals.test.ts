import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { ModeNotSupportedError } from '@tk/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedIpfs, type EmbeddedIpfs } from '../src/index.js'
import { temporaryDirectory } from './helpers.js'

/** What the node holds: every block, every pin, every key; a refused call must change none of it. */
async function holdings(ipfs: EmbeddedIpfs) {
  const blocks: string[] = []
  for await (const { cid } of ipfs.helia.blockstore.getAll()) blocks.push(cid.toString())
  return {
    blocks: blocks.sort(),
    pins: (await ipfs.content.pins()).map(pin => `${pin.cid} ${pin.type}`).sort(),
    keys: (await ipfs.ipns.listKeys()).map(key => `${key.name} ${key.id}`)
  }
}

/** The error `call` rejects with (an Error saying it resolved if it did). */
async function failure(call: () => Promise<unknown>): Promise<ModeNotSupportedError> {
  return (await call().then(
    () => new Error('the call resolved'),
    (error: unknown) => error
  )) as ModeNotSupportedError
}

/** Refusals of the embedded mode: each a ModeNotSupportedError naming the call and the mode, with nothing half-done. */
describe('what an embedded node refuses (ModeNotSupportedError), leaving nothing behind', () => {
  let ipfs: EmbeddedIpfs
  let pinnedBefore: string

  beforeAll(async () => {
    // No DHT: nothing here needs a peer, and a refusal must not depend on one.
    ipfs = await createEmbeddedIpfs({ dht: 'off' })
    // Something already held, so that "unchanged" is not just "empty".
    pinnedBefore = await ipfs.content.publish(randomBytes(1_000))
    await ipfs.ipns.createKey('existing')
  })

  afterAll(async () => {
    await ipfs?.close()
  })

  it('a chunker other than size-262144: no block stored, nothing pinned', async () => {
    const before = await holdings(ipfs)
    expect(before.pins).toContain(`${pinnedBefore} recursive`)
    const bytes = randomBytes(3_000)
    const error = await failure(() => ipfs.content.publish(bytes, { chunker: 'size-1024' }))
    expect([error.name, error.operation, error.mode]).toEqual([
      'ModeNotSupportedError',
      'content.publish with chunker "size-1024"',
      'embedded'
    ])
    expect(error.message).toContain('size-262144')
    expect(await holdings(ipfs)).toEqual(before)
    // The default chunker is taken, stating it or not.
    const cid = await ipfs.content.publish(bytes, { chunker: 'size-262144', pin: false })
    expect(cid).toBe(await ipfs.content.predictCid(bytes))
  })

  it('pins({ type: "indirect" }): refused before listing, the pins unchanged', async () => {
    const before = await holdings(ipfs)
    const error = await failure(() => ipfs.content.pins({ type: 'indirect' }))
    expect([error.name, error.operation, error.mode]).toEqual([
      'ModeNotSupportedError',
      'content.pins({ type: "indirect" })',
      'embedded'
    ])
    expect(error.message).toContain('recursive')
    expect(await holdings(ipfs)).toEqual(before)
  })

  it('publishing a symbolic link itself (given, or inside a directory): no block stored, nothing pinned', async () => {
    await using work = await temporaryDirectory('refuse-symlink')
    const target = path.join(work.path, 'target.txt')
    await fs.writeFile(target, 'what the link points to\n')
    const link = path.join(work.path, 'link')
    await fs.symlink(target, link)
    const tree = path.join(work.path, 'tree')
    await fs.mkdir(tree)
    // A file before the link (in name order), so a publish that stored files as it went would show.
    await fs.writeFile(path.join(tree, 'a-first.txt'), randomBytes(2_000))
    await fs.symlink(target, path.join(tree, 'b-link'))
    const before = await holdings(ipfs)
    for (const input of [link, tree]) {
      const error = await failure(() => ipfs.content.publish(input))
      expect([input, error.name, error.operation, error.mode]).toEqual([
        input,
        'ModeNotSupportedError',
        'content.publish of a symbolic link',
        'embedded'
      ])
      expect(error.message).toContain('followSymlinks')
    }
    expect(await holdings(ipfs)).toEqual(before)
  })

  it('a secp256k1 key: no key created', async () => {
    const before = await holdings(ipfs)
    const error = await failure(() => ipfs.ipns.createKey('curvy', { type: 'secp256k1' }))
    expect([error.name, error.operation, error.mode]).toEqual([
      'ModeNotSupportedError',
      'ipns.createKey with type "secp256k1"',
      'embedded'
    ])
    expect(await holdings(ipfs)).toEqual(before)
    expect(before.keys.map(key => key.split(' ')[0])).toEqual(['self', 'existing'])
  })

  it('a DNSLink name, to ipns.resolve, ipns.read and as an /ipns/ content path: nothing looked up or stored', async () => {
    const before = await holdings(ipfs)
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['ipns.resolve of a DNSLink name', () => ipfs.ipns.resolve('docs.ipfs.tech')],
      ['ipns.resolve of a DNSLink name', () => ipfs.ipns.resolve('/ipns/docs.ipfs.tech')],
      ['ipns.resolve of a DNSLink name', () => ipfs.ipns.read('docs.ipfs.tech')],
      ['content.read of a DNSLink name', () => ipfs.content.read('/ipns/docs.ipfs.tech/index.html')],
      ['content.download of a DNSLink name', () => ipfs.content.download('/ipns/docs.ipfs.tech', 'never')]
    ]
    for (const [operation, attempt] of attempts) {
      const error = await failure(attempt)
      expect([error.name, error.operation, error.mode]).toEqual([
        'ModeNotSupportedError',
        operation,
        'embedded'
      ])
      expect(error.message).toContain('Kubo')
    }
    expect(await holdings(ipfs)).toEqual(before)
  })
})
