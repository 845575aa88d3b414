import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createCidCommands } from '../src/commands/cid.js'
import { createMultibaseCommands } from '../src/commands/multibase.js'
import { sha256, useKuboNode } from './helpers.js'

const kubo = useKuboNode()
const { invoker } = kubo
const multibase = createMultibaseCommands(invoker)

describe('multibase', () => {
  it('encodes with base64url by default, or the base asked for', async () => {
    expect(await multibase.encode('hello')).toBe('uaGVsbG8')
    expect(await multibase.encode('hello', { base: 'base16' })).toBe('f68656c6c6f')
    expect(await multibase.encode(new Uint8Array([0, 1, 2, 255]), { base: 'base32' })).toBe('baaaqf7y')
    expect(
      await multibase.encode(Readable.from([Buffer.from('hel'), Buffer.from('lo')]), { base: 'base58btc' })
    ).toBe('zCn8eVZg')
  })

  it('decodes any base by its prefix, and round-trips random bytes', async () => {
    expect(new TextDecoder().decode(await multibase.decode('f68656c6c6f'))).toBe('hello')
    expect(new TextDecoder().decode(await multibase.decode(new TextEncoder().encode('uaGVsbG8')))).toBe(
      'hello'
    )
    // Kubo's base36 is quadratic in the input length: keep it small.
    const bytes = randomBytes(5_000)
    const encoded = await multibase.encode(bytes, { base: 'base36' })
    expect(encoded.startsWith('k')).toBe(true)
    expect(sha256(await multibase.decode(encoded))).toBe(sha256(bytes))
  })

  it('transcodes between bases', async () => {
    expect(await multibase.transcode('f68656c6c6f', { base: 'base58btc' })).toBe('zCn8eVZg')
    expect(await multibase.transcode('zCn8eVZg')).toBe('uaGVsbG8')
  })

  it('lists the same bases as cid bases', async () => {
    const list = await multibase.list()
    expect(list).toContainEqual({ name: 'base64url', code: 117, prefix: 'u' })
    expect(list).toContainEqual({ name: 'identity', code: 0, prefix: '\0' })
    expect(list).toEqual(await createCidCommands(invoker).bases())
  })

  it("reports Kubo's errors for unknown bases and undecodable input", async () => {
    await expect(multibase.encode('x', { base: 'nope' })).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'unsupported multibase encoding: nope'
    })
    await expect(multibase.decode('hello')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'failed to decode multibase: selected encoding not supported'
    })
    await expect(multibase.transcode('f6', { base: 'base32' })).rejects.toMatchObject({
      name: 'KuboRpcError',
      command: 'multibase/transcode'
    })
  })

  it('rejects input that is not data before any request', async () => {
    await expect(multibase.encode(42 as never)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'input'
    })
  })
})
