import { generateKeyPairSync, verify as verifySignature } from 'node:crypto'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { describe, expect, it } from 'vitest'
import { createKeyCommands } from '../src/commands/key.js'
import { useKuboNode } from './helpers.js'

const LIBP2P_KEY = 0x72
const SIGNED_PREFIX = 'libp2p-key signed message:'

const kubo = useKuboNode()
const key = createKeyCommands(kubo.invoker)

/** An Ed25519 key made outside Kubo: its libp2p protobuf encoding, its PEM, and the id Kubo must derive. */
function externalEd25519Key() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  const seed = Buffer.from(jwk.d ?? '', 'base64url')
  const raw = Buffer.from(jwk.x ?? '', 'base64url')
  // libp2p's PrivateKey protobuf: field 1 KeyType (1 = Ed25519), field 2 Data (seed ‖ public key).
  const protobuf = new Uint8Array([0x08, 0x01, 0x12, 0x40, ...seed, ...raw])
  const publicProtobuf = new Uint8Array([0x08, 0x01, 0x12, 0x20, ...raw])
  const id = CID.createV1(LIBP2P_KEY, identity.digest(publicProtobuf)).toString(base36)
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  return { protobuf, pem, id, publicKey }
}

describe('key', () => {
  it('generates ed25519 and rsa keys; ls and the deprecated list show them with the same ids', async () => {
    const alpha = await key.gen('alpha')
    expect(alpha).toEqual({ name: 'alpha', id: expect.stringMatching(/^k51/) })
    const beta = await key.gen('beta', { type: 'rsa', size: 2048 })
    expect(beta.name).toBe('beta')
    // An RSA public key is too big for an identity hash, so its id is a sha2-256 one (k2k4r8…).
    expect(beta.id).toMatch(/^k2k4r8/)

    const keys = await key.ls()
    expect(keys[0]?.name).toBe('self')
    expect(keys).toEqual(expect.arrayContaining([alpha, beta]))
    expect(await key.list()).toEqual(keys)
    expect(await key.ls({ long: true })).toEqual(keys)

    // The same key written as a base58 multihash is the peer id form of the same CID.
    const base58 = await key.ls({ ipnsBase: 'b58mh' })
    const alphaBase58 = base58.find(entry => entry.name === 'alpha')?.id ?? ''
    expect(alphaBase58).toMatch(/^12D3KooW/)
    expect(CID.parse(alpha.id, base36).multihash.bytes).toEqual(base58btc.baseDecode(alphaBase58))
  })

  it('renames a key, keeping its id; force replaces an existing name', async () => {
    const beta = (await key.ls()).find(entry => entry.name === 'beta')
    const renamed = await key.rename('beta', 'gamma')
    expect(renamed).toEqual({ was: 'beta', now: 'gamma', id: beta?.id, overwrite: false })
    const names = (await key.ls()).map(entry => entry.name)
    expect(names).toContain('gamma')
    expect(names).not.toContain('beta')

    const spare = await key.gen('spare')
    const refused = await key.rename('spare', 'gamma').catch((error: unknown) => error as Error)
    expect(refused).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: expect.stringMatching(/already exists/)
    })
    const forced = await key.rename('spare', 'gamma', { force: true })
    expect(forced).toEqual({ was: 'spare', now: 'gamma', id: spare.id, overwrite: true })
    expect((await key.ls()).find(entry => entry.name === 'gamma')?.id).toBe(spare.id)
  })

  it('signs data; verify accepts it and rejects tampered data or another key', async () => {
    const signed = await key.sign('hello, keys', { key: 'alpha' })
    expect(signed.key.name).toBe('alpha')
    expect(signed.signature.byteLength).toBe(64)

    expect(await key.verify('hello, keys', { key: 'alpha', signature: signed.signature })).toEqual({
      key: signed.key,
      valid: true
    })
    expect(
      (
        await key.verify(new TextEncoder().encode('hello, keyz'), {
          key: 'alpha',
          signature: signed.signature
        })
      ).valid
    ).toBe(false)
    expect((await key.verify('hello, keys', { key: 'gamma', signature: signed.signature })).valid).toBe(false)

    // Without `key`, Kubo signs with the node's own key.
    const bySelf = await key.sign(new Uint8Array([1, 2, 3]))
    expect(bySelf.key.name).toBe('self')
    expect((await key.verify(new Uint8Array([1, 2, 3]), { signature: bySelf.signature })).valid).toBe(true)
  })

  it('imports a libp2p protobuf key and a PEM key made outside Kubo, with the ids they must have', async () => {
    const external = externalEd25519Key()
    const imported = await key.import('outside', external.protobuf)
    expect(imported).toEqual({ name: 'outside', id: external.id })
    expect(await key.ls()).toContainEqual(imported)

    // Kubo signs with the imported private key: Node verifies it with the public half.
    const signed = await key.sign('proof', { key: 'outside' })
    const message = Buffer.concat([Buffer.from(SIGNED_PREFIX), Buffer.from('proof')])
    expect(verifySignature(null, message, external.publicKey, signed.signature)).toBe(true)

    const duplicate = await key.import('outside', external.protobuf).catch((error: unknown) => error as Error)
    expect(duplicate).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: "key with name 'outside' already exists"
    })

    const pemKey = externalEd25519Key()
    const fromPem = await key.import('from-pem', pemKey.pem, { format: 'pem-pkcs8-cleartext' })
    expect(fromPem).toEqual({ name: 'from-pem', id: pemKey.id })
    const wrongFormat = await key
      .import('pem-as-protobuf', pemKey.pem)
      .catch((error: unknown) => error as Error)
    expect(wrongFormat).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        'unexpected PEM block for format=libp2p-protobuf-cleartext: try again with format=pem-pkcs8-cleartext'
    })
  })

  it('removes keys and returns what was removed', async () => {
    const before = await key.ls()
    const alpha = before.find(entry => entry.name === 'alpha')
    const outside = before.find(entry => entry.name === 'outside')
    expect(await key.rm(['alpha', 'outside'])).toEqual([alpha, outside])
    expect(await key.rm('from-pem', { long: true })).toEqual([
      before.find(entry => entry.name === 'from-pem')
    ])
    const names = (await key.ls()).map(entry => entry.name)
    expect(names).not.toContain('alpha')
    expect(names).not.toContain('outside')
    expect(names).not.toContain('from-pem')

    const missing = await key.rm('alpha').catch((error: unknown) => error as Error)
    expect(missing).toMatchObject({ name: 'KuboRpcError', kuboMessage: 'no key named alpha was found' })
  })

  it('rejects bad arguments before any request', async () => {
    await expect(key.gen('a/b')).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'name' })
    await expect(key.gen('self')).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'name' })
    await expect(key.rename('ok', '')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'newName'
    })
    await expect(key.rm([])).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'names' })
    await expect(key.verify('x', { signature: '' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'signature'
    })
    await expect(key.import('k', 42 as unknown as string)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'key'
    })
  })
})
