import { base64url } from 'multiformats/bases/base64'
import { entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkKeyName } from '../validate.js'

/** How key ids are written: `base36` (default, `k51…`), `base32` (`bafz…`), `b58mh` (`12D3KooW…`/`Qm…`), or another multibase name. */
export type IpnsBase = 'base36' | 'base32' | 'b58mh' | 'v0' | (string & {})

export interface KeyIdOptions extends CallOptions {
  /** How key ids in the result are written; default `base36`. */
  ipnsBase?: IpnsBase
}

export interface KeyGenOptions extends KeyIdOptions {
  /** Default `ed25519`. */
  type?: 'ed25519' | 'rsa' | 'secp256k1'
  /** Key size in bits (RSA only, e.g. 2048 or 4096). */
  size?: number
}

export interface KeyListOptions extends KeyIdOptions {
  /**
   * Kubo's `-l` ("show extra information"). It only changes Kubo's text output: the result here
   * always carries each key's id.
   */
  long?: boolean
}

export interface KeyRenameOptions extends KeyIdOptions {
  /** Replace a key that already has the new name. */
  force?: boolean
}

export interface KeyImportOptions extends KeyIdOptions {
  /** The key's encoding; default `libp2p-protobuf-cleartext` (what `ipfs key export` writes). */
  format?: 'libp2p-protobuf-cleartext' | 'pem-pkcs8-cleartext'
  /** Accept key types other than RSA, Ed25519 and secp256k1. */
  allowAnyKeyType?: boolean
}

export interface KeySignOptions extends KeyIdOptions {
  /** The key to sign with, by name or id; default `self`. */
  key?: string
}

export interface KeyVerifyOptions extends KeyIdOptions {
  /** The key to verify against, by name, id or IPNS name; default `self`. */
  key?: string
  /** The signature from `sign`: its bytes, or a multibase string (Kubo's own form, `u…`). */
  signature: Uint8Array | string
}

export interface KeyInfo {
  name: string
  /** The key's id (its IPNS name), written as `ipnsBase` asks. */
  id: string
}

export interface KeyRenameResult {
  /** The old name. */
  was: string
  /** The new name. */
  now: string
  id: string
  /** Whether a key that had the new name was replaced. */
  overwrite: boolean
}

export interface KeySignature {
  /** The key that signed. */
  key: KeyInfo
  /** The signature over `"libp2p-key signed message:"` followed by the data (Kubo adds the prefix). */
  signature: Uint8Array
}

export interface KeyVerification {
  /** The key that was checked against. */
  key: KeyInfo
  valid: boolean
}

interface RawKey {
  Name: string
  Id: string
}

const toKeyInfo = (raw: RawKey): KeyInfo => ({ name: raw.Name, id: raw.Id })

function checkData(data: Uint8Array | string, argument = 'data'): Uint8Array | string {
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new InvalidArgumentError(argument, 'expected a Uint8Array or a string')
  }
  return data
}

/** `key/*`: the keystore of IPNS keypairs. (`key/export` and `key/rotate` are CLI-only in Kubo.) */
export function createKeyCommands(invoker: Invoker) {
  const listKeys = async (command: 'key/ls' | 'key/list', options: KeyListOptions): Promise<KeyInfo[]> =>
    list(
      (await invoker.json<{ Keys: RawKey[] | null }>(command, options, { rename: { long: 'l' } })).Keys
    ).map(toKeyInfo)

  return {
    /** Creates a keypair named `name` and returns its id. */
    gen: async (name: string, options: KeyGenOptions = {}): Promise<KeyInfo> => {
      checkKeyName(name)
      if (name === 'self')
        throw new InvalidArgumentError('name', '"self" is the node\'s own key and cannot be created')
      return toKeyInfo(await invoker.json<RawKey>('key/gen', options, { args: [name] }))
    },

    /** Every key in the keystore, `self` first. */
    ls: async (options: KeyListOptions = {}): Promise<KeyInfo[]> => await listKeys('key/ls', options),

    /**
     * The same as `ls`.
     * @deprecated Kubo keeps `key list` only as an alias of `key ls`; use `ls`.
     */
    list: async (options: KeyListOptions = {}): Promise<KeyInfo[]> => await listKeys('key/list', options),

    /** Removes keys by name and returns what was removed. */
    rm: async (names: string | readonly string[], options: KeyListOptions = {}): Promise<KeyInfo[]> => {
      const all = typeof names === 'string' ? [names] : [...names]
      if (all.length === 0) throw new InvalidArgumentError('names', 'name at least one key to remove')
      for (const name of all) checkKeyName(name, 'names')
      return list(
        (
          await invoker.json<{ Keys: RawKey[] | null }>('key/rm', options, {
            args: all,
            rename: { long: 'l' }
          })
        ).Keys
      ).map(toKeyInfo)
    },

    /** Renames a key; its id stays the same. */
    rename: async (
      name: string,
      newName: string,
      options: KeyRenameOptions = {}
    ): Promise<KeyRenameResult> => {
      const raw = await invoker.json<{ Was: string; Now: string; Id: string; Overwrite: boolean }>(
        'key/rename',
        options,
        {
          args: [checkKeyName(name), checkKeyName(newName, 'newName')]
        }
      )
      return { was: raw.Was, now: raw.Now, id: raw.Id, overwrite: raw.Overwrite }
    },

    /** Stores a private key under `name`: libp2p protobuf bytes (default) or PKCS#8 PEM text with `format`. */
    import: async (
      name: string,
      key: Uint8Array | string,
      options: KeyImportOptions = {}
    ): Promise<KeyInfo> => {
      checkKeyName(name)
      if (name === 'self')
        throw new InvalidArgumentError('name', '"self" is the node\'s own key and cannot be replaced')
      checkData(key, 'key')
      return toKeyInfo(
        await invoker.json<RawKey>('key/import', options, { args: [name], body: entriesFromInput(key) })
      )
    },

    /** Signs `data` with a key (experimental in Kubo). */
    sign: async (data: Uint8Array | string, options: KeySignOptions = {}): Promise<KeySignature> => {
      const raw = await invoker.json<{ Key: RawKey; Signature: string }>('key/sign', options, {
        body: entriesFromInput(checkData(data))
      })
      return { key: toKeyInfo(raw.Key), signature: base64url.decode(raw.Signature) }
    },

    /** Checks a signature from `sign` over `data` (experimental in Kubo). */
    verify: async (data: Uint8Array | string, options: KeyVerifyOptions): Promise<KeyVerification> => {
      const signature = options?.signature
      if (!(signature instanceof Uint8Array) && (typeof signature !== 'string' || signature === '')) {
        throw new InvalidArgumentError(
          'signature',
          'pass the signature from sign() as bytes or a multibase string'
        )
      }
      const raw = await invoker.json<{ Key: RawKey; SignatureValid: boolean }>('key/verify', options, {
        body: entriesFromInput(checkData(data)),
        omit: ['signature'],
        options: { signature: signature instanceof Uint8Array ? base64url.encode(signature) : signature }
      })
      return { key: toKeyInfo(raw.Key), valid: raw.SignatureValid }
    }
  }
}
