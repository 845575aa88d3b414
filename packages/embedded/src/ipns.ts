import type { IPNS } from '@helia/ipns'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  type CallOptions,
  type Content,
  type CreateIpnsKeyOptions,
  InvalidArgumentError,
  type Ipns,
  type IpnsKey,
  IpnsKeyNotFoundError,
  type IpnsRecordOptions,
  ModeNotSupportedError,
  type ResolveIpnsOptions
} from '@tk/interface'
import type { Helia } from 'helia'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { runCall } from './call.js'
import { IpnsNameNotFoundError } from './errors.js'

/** Key names as Kubo allows them: no slashes or spaces, not empty. */
const KEY_NAME = /^[^/\s]+$/
/** The libp2p-key multicodec: a CID of a public key is an IPNS name. */
const LIBP2P_KEY = 0x72

/**
 * Resolves an IPNS name to the path it points at (`/ipfs/<cid>[/…]`), following names that point
 * at names; what `ipns.resolve` and the content calls on `/ipns/` paths share. It runs under the
 * caller's signal (its call's deadline): it is a step of a call, not a call of its own.
 */
export type NameResolver = (name: CID, options: { signal: AbortSignal; nocache?: boolean }) => Promise<string>

/** The {@link NameResolver} of `names` (@helia/ipns over the node's routers). */
export function createNameResolver(names: IPNS): NameResolver {
  return async (name, options) => {
    let value: string | undefined
    try {
      for await (const result of names.resolve(name, options)) value = result.value
    } catch (error) {
      // @helia/ipns asked every router and none had a record (or only invalid ones).
      if (
        !options.signal.aborted &&
        ['RecordNotFoundError', 'RecordsFailedValidationError'].includes((error as Error).name)
      )
        throw new IpnsNameNotFoundError(name.toString(base36), { cause: error })
      throw error
    }
    if (value == null) throw new IpnsNameNotFoundError(name.toString(base36))
    return value
  }
}

/**
 * The IPNS name an `/ipns/<name>` path segment holds. A DNSLink domain (a dotted name) is refused
 * with ModeNotSupportedError: the embedded node does no DNS lookups.
 */
export function parseIpnsPathName(segment: string, operation: string): CID {
  const parsed = parseName(segment)
  if (parsed != null) return parsed
  if (segment.includes('.')) {
    throw new ModeNotSupportedError(
      `${operation} of a DNSLink name`,
      'embedded',
      'Resolve DNSLink names on a Kubo node.'
    )
  }
  throw new InvalidArgumentError('name', `"${segment}" after /ipns/ is not an IPNS name (k51…, or a peer id)`)
}

/** IPNS on the embedded node: @helia/ipns over the keychain in the node's datastore and the DHT. */
export function createIpns(
  helia: Helia,
  names: IPNS,
  resolveName: NameResolver,
  content: Content,
  selfPeerId: string,
  closing: AbortSignal
): Ipns {
  const keychain = (helia as unknown as { keychain: HeliaKeychain }).keychain
  const self = toIpnsName(selfPeerId)

  const listKeys = async (signal?: AbortSignal): Promise<IpnsKey[]> => {
    const keys: IpnsKey[] = [{ name: 'self', id: self }]
    for await (const key of keychain.listKeys({ signal })) {
      if (key.name === 'self') continue
      // The keychain's own ids are hashes of the private key; the IPNS name is the public key's CID.
      const exported = await keychain.exportKey(key.name, { signal })
      keys.push({ name: key.name, id: exported.publicKey.toCID().toString(base36) })
    }
    return keys
  }

  const findKey = async (name: string, signal: AbortSignal): Promise<IpnsKey | undefined> =>
    (await listKeys(signal)).find(key => key.name === name)

  /** The IPNS name (a libp2p-key CID) that `nameOrKey` stands for. */
  const toName = async (nameOrKey: string, signal: AbortSignal): Promise<CID> => {
    if (typeof nameOrKey !== 'string' || nameOrKey.trim() === '')
      throw new InvalidArgumentError('name', 'expected a key name, an IPNS name (k51…) or an /ipns/ path')
    if (nameOrKey.startsWith('/ipns/'))
      return parseIpnsPathName(nameOrKey.slice('/ipns/'.length).split('/')[0] ?? '', 'ipns.resolve')
    const parsed = parseName(nameOrKey)
    if (parsed != null) return parsed
    if (KEY_NAME.test(nameOrKey)) {
      const key = await findKey(nameOrKey, signal)
      if (key != null) return CID.parse(key.id, base36)
      if (nameOrKey.includes('.')) {
        throw new ModeNotSupportedError(
          'ipns.resolve of a DNSLink name',
          'embedded',
          'Resolve DNSLink names on a Kubo node.'
        )
      }
      throw new IpnsKeyNotFoundError(nameOrKey)
    }
    throw new InvalidArgumentError(
      'name',
      `"${nameOrKey}" is neither a key name, an IPNS name (k51…) nor an /ipns/ path`
    )
  }

  const resolve = async (nameOrKey: string, options: ResolveIpnsOptions = {}): Promise<string> =>
    await runCall('ipns.resolve', options, closing, async signal => {
      const name = await toName(nameOrKey, signal)
      return await resolveName(name, { signal, nocache: options.nocache })
    })

  const publish = async (keyName: string, cid: string, options: IpnsRecordOptions = {}) => {
    checkKeyName(keyName)
    if (typeof cid !== 'string' || cid === '')
      throw new InvalidArgumentError('cid', 'expected a CID or an /ipfs/… or /ipns/… path')
    const value = cid.startsWith('/') ? cid : `/ipfs/${CID.parse(cid).toString()}`
    checkDuration(options.lifetime, 'lifetime')
    checkDuration(options.ttl, 'ttl')
    return await runCall('ipns.publish', options, closing, async signal => {
      // @helia/ipns would create a missing key; Kubo refuses, and so do we (a typo must not mint a name).
      const key = await findKey(keyName, signal)
      if (key == null) throw new IpnsKeyNotFoundError(keyName)
      await names.publish(keyName, value, {
        signal,
        lifetime: options.lifetime,
        ttl: options.ttl,
        offline: options.allowOffline
      })
      return { name: key.id, value }
    })
  }

  return {
    createKey: async (name: string, options: CreateIpnsKeyOptions = {}) => {
      checkKeyName(name)
      if (name === 'self') throw new InvalidArgumentError('name', '"self" is the node\'s own key')
      const type = options.type ?? 'ed25519'
      return await runCall('ipns.createKey', options, closing, async signal => {
        if ((await findKey(name, signal)) != null)
          throw new InvalidArgumentError('name', `a key named "${name}" exists already`)
        if (type === 'secp256k1') {
          throw new ModeNotSupportedError(
            'ipns.createKey with type "secp256k1"',
            'embedded',
            'Use an ed25519 (default) or rsa key, or a Kubo node.'
          )
        }
        await keychain.generateKey(name, {
          signal,
          type: type === 'rsa' ? 'RSA' : 'Ed25519',
          ...(type === 'rsa' ? { bits: options.size ?? 2048 } : {})
        })
        const created = await findKey(name, signal)
        if (created == null) throw new Error(`The keychain did not keep the key "${name}"`)
        return created.id
      })
    },

    listKeys: async (options: CallOptions = {}) =>
      await runCall('ipns.listKeys', options, closing, async signal => await listKeys(signal)),

    deleteKey: async (name: string, options: CallOptions = {}) => {
      checkKeyName(name)
      if (name === 'self')
        throw new InvalidArgumentError('name', '"self" is the node\'s own key and cannot be deleted')
      await runCall('ipns.deleteKey', options, closing, async signal => {
        if ((await findKey(name, signal)) == null) throw new IpnsKeyNotFoundError(name)
        await keychain.removeKey(name, { signal })
      })
    },

    publish,

    publishFile: async (keyName: string, localPath: string, options = {}) => {
      checkKeyName(keyName)
      if (typeof localPath !== 'string')
        throw new InvalidArgumentError('path', 'expected the local path of a file or directory')
      const cid = await content.publish(localPath, { ...options, onlyHash: false })
      return { ...(await publish(keyName, cid, options)), cid }
    },

    resolve,

    read: async (nameOrKey, options = {}) => await content.read(await resolve(nameOrKey, options), options),

    download: async (nameOrKey, destination, options = {}) => {
      const resolved = await resolve(nameOrKey, options)
      await content.download(resolved, destination, options)
      return resolved
    }
  }
}

/** What this package uses of Helia's keychain (@ipshipyard/keychain). */
interface HeliaKeychain {
  listKeys(options?: CallOptions): AsyncIterable<{ name: string; id: string }>
  generateKey(name: string, options?: CallOptions & Record<string, unknown>): Promise<unknown>
  exportKey(name: string, options?: CallOptions): Promise<{ publicKey: { toCID(): CID } }>
  removeKey(name: string, options?: CallOptions): Promise<void>
}

/** A peer id (`12D3…`, `Qm…`) or key CID as Kubo shows IPNS names: base36 libp2p-key CIDs (`k51…`). */
function toIpnsName(id: string): string {
  const parsed = parseName(id)
  if (parsed == null) throw new Error(`"${id}" is not a peer id`)
  return parsed.toString(base36)
}

function parseName(value: string): CID | undefined {
  try {
    if (value.startsWith('k')) {
      const cid = CID.parse(value, base36)
      return cid.code === LIBP2P_KEY ? cid : undefined
    }
    if (value.startsWith('b')) {
      const cid = CID.parse(value)
      return cid.code === LIBP2P_KEY ? cid : undefined
    }
    return peerIdFromString(value).toCID()
  } catch {
    return undefined
  }
}

function checkKeyName(name: string): void {
  if (typeof name !== 'string' || !KEY_NAME.test(name))
    throw new InvalidArgumentError(
      'name',
      `expected a key name without slashes or spaces, got ${JSON.stringify(name)}`
    )
}

function checkDuration(value: number | undefined, argument: string): void {
  if (value != null && (!Number.isSafeInteger(value) || value <= 0))
    throw new InvalidArgumentError(argument, `expected milliseconds > 0, got ${String(value)}`)
}
