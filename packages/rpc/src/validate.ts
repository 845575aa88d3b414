import { multiaddr } from '@multiformats/multiaddr'
import { base58btc } from 'multiformats/bases/base58'
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidArgumentError } from './errors.js'

/** Decodes a multibase string in any base Kubo accepts (base16, base32, base36, base58, base64, …). */
function decodeAnyBase(value: string): Uint8Array {
  const codec = Object.values(bases).find(base => value.startsWith(base.prefix))
  if (codec == null) throw new Error(`unknown multibase prefix "${value.slice(0, 1)}"`)
  return codec.decode(value)
}

const LIBP2P_KEY_CODEC = 0x72
const IDENTITY_HASH = 0x00
const SHA2_256 = 0x12

/** Throws unless `value` is a CID (any version, any base Kubo accepts). Returns it unchanged. */
export function checkCid(value: string, argument = 'cid'): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError(argument, 'expected a CID string, got nothing')
  try {
    // CIDv0 is bare base58btc; anything else carries its multibase prefix.
    if (value.startsWith('Qm') || value.startsWith('1')) CID.parse(value)
    else CID.decode(decodeAnyBase(value))
  } catch (error) {
    throw new InvalidArgumentError(argument, `"${value}" is not a CID`, { cause: error })
  }
  return value
}

/**
 * Throws unless `value` is something Kubo resolves as content: a CID, `/ipfs/<cid>[/path]`,
 * `/ipns/<name>[/path]` or `/ipld/<cid>[/path]`. Returns it unchanged.
 */
export function checkPath(value: string, argument = 'path'): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError(argument, 'expected a CID or an /ipfs/ or /ipns/ path, got nothing')
  const match = /^\/(ipfs|ipld|ipns)\/([^/]+)/.exec(value)
  if (match == null) {
    checkCid(value.split('/')[0] ?? '', argument)
    return value
  }
  if (match[1] !== 'ipns') checkCid(match[2] ?? '', argument)
  return value
}

/** Throws unless `value` is a peer id (`12D3KooW…`, `Qm…`, or a CIDv1 with the libp2p-key codec). */
export function checkPeerId(value: string, argument = 'peerId'): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError(argument, 'expected a peer id, got nothing')
  try {
    if (value.startsWith('Qm') || value.startsWith('1')) {
      const digest = Digest.decode(base58btc.baseDecode(value))
      if (digest.code === IDENTITY_HASH || digest.code === SHA2_256) return value
    } else if (CID.parse(value).code === LIBP2P_KEY_CODEC) {
      return value
    }
  } catch (error) {
    throw new InvalidArgumentError(
      argument,
      `"${value}" is not a peer id (expected 12D3KooW…, Qm… or a libp2p-key CID)`,
      { cause: error }
    )
  }
  throw new InvalidArgumentError(
    argument,
    `"${value}" is not a peer id (expected 12D3KooW…, Qm… or a libp2p-key CID)`
  )
}

/** Throws unless `value` is a valid multiaddr. Returns it as a string. */
export function checkMultiaddr(value: string, argument = 'multiaddr'): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new InvalidArgumentError(
      argument,
      `"${String(value)}" is not a multiaddr (e.g. /ip4/1.2.3.4/tcp/4001/p2p/12D3KooW…)`
    )
  }
  try {
    return multiaddr(value).toString()
  } catch (error) {
    throw new InvalidArgumentError(
      argument,
      `"${value}" is not a valid multiaddr: ${(error as Error).message}`,
      { cause: error }
    )
  }
}

/** Throws unless `value` can name a key in Kubo's keystore. */
export function checkKeyName(value: string, argument = 'name'): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new InvalidArgumentError(argument, 'a key name cannot be empty')
  if (value.includes('/'))
    throw new InvalidArgumentError(
      argument,
      `"${value}" contains "/", which Kubo does not allow in key names`
    )
  if (value.startsWith('.'))
    throw new InvalidArgumentError(
      argument,
      `"${value}" starts with ".", which Kubo does not allow in key names`
    )
  return value
}

/** Throws unless `value` is a usable pubsub topic (a non-empty string or bytes). */
export function checkTopic(value: string | Uint8Array, argument = 'topic'): string | Uint8Array {
  if (typeof value === 'string' ? value === '' : !(value instanceof Uint8Array) || value.byteLength === 0) {
    throw new InvalidArgumentError(argument, 'a pubsub topic must be a non-empty string or Uint8Array')
  }
  return value
}

/** Throws unless `value` is a p2p protocol name Kubo accepts without `allowCustomProtocol`. */
export function checkProtocol(
  value: string,
  allowCustom: boolean | undefined,
  argument = 'protocol'
): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError(argument, 'a protocol name cannot be empty')
  if (allowCustom !== true && !value.startsWith('/x/')) {
    throw new InvalidArgumentError(
      argument,
      `"${value}" must start with /x/ (or pass allowCustomProtocol: true)`
    )
  }
  return value
}
