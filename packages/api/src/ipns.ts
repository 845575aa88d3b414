import {
  IpnsKeyNotFoundError as BaseIpnsKeyNotFoundError,
  type IpnsFilePublication,
  type IpnsPublication
} from '@tk/interface'
import { type Duration, InvalidArgumentError, type KeyInfo, KuboRpcError } from '@tk/rpc'
import { checkKeyName, checkPath, checkPeerId } from '@tk/rpc/validate'
import {
  createContentFunctions,
  type DownloadOptions,
  type PublishOptions,
  type ReadAllOptions
} from './content.js'
import type { ApiContext } from './context.js'
import type { CallOptions } from './options.js'

export interface CreateIpnsKeyOptions extends CallOptions {
  /** The key type; default `ed25519` (Kubo's default; names start with `k51…`). */
  type?: 'ed25519' | 'rsa' | 'secp256k1'
  /** Key size in bits, for RSA only (e.g. 2048, 4096). */
  size?: number
}

export interface IpnsRecordOptions extends CallOptions {
  /** How long the signed record stays valid: ms, or a Go duration such as `24h`; Kubo's default is 48h. */
  lifetime?: Duration
  /** How long resolvers may cache the record: ms, or a Go duration such as `5m`; Kubo's default is 5m. */
  ttl?: Duration
  /** Store the record locally even when the node cannot reach the network. */
  allowOffline?: boolean
}

export interface UpdateIpnsRecordOptions extends IpnsRecordOptions, Omit<PublishOptions, 'onlyHash'> {}

export interface ResolveIpnsOptions extends CallOptions {
  /**
   * Ask the network instead of answering from this node's cache of resolved names. Default false,
   * except for names published through these functions (Kubo's cache does not see its own updates).
   */
  nocache?: boolean
}

// What publishing resolves with in every mode, declared once in @tk/interface.
export type { IpnsFilePublication, IpnsPublication }

/**
 * No key of that name is in this node's keystore. @tk/interface's error (same `name`, and
 * `instanceof` it holds); here the message can also say what else was wrong with the name.
 */
export class IpnsKeyNotFoundError extends BaseIpnsKeyNotFoundError {
  constructor(key: string, problem = "is not a key in this node's keystore", options?: ErrorOptions) {
    super(key, options)
    this.message = `"${key}" ${problem}; create it with createIpnsKey() or list the keys with listIpnsKeys()`
  }
}

function isPeerId(value: string): boolean {
  try {
    checkPeerId(value)
    return true
  } catch {
    return false
  }
}

function isMissingKey(error: unknown): boolean {
  return (
    error instanceof KuboRpcError && /no key (by the given name|named .*) was found/.test(error.kuboMessage)
  )
}

/** IPNS: keys, publishing records, resolving names and reading what they point to. */
export function createIpnsFunctions(
  context: ApiContext,
  /** The instance's content functions, so that both share one pin cache. */
  content: ReturnType<typeof createContentFunctions> = createContentFunctions(context)
) {
  const { client } = context
  /**
   * IPNS names this instance published. Kubo 0.43 files its own publishes in its resolver cache
   * under another key (`k51…`) than resolves look up (`/ipns/k51…`), so after a publish the node
   * keeps answering with the value it resolved before for up to that record's TTL; these names
   * are resolved without the cache unless the caller says otherwise.
   */
  const publishedHere = new Set<string>()

  const findKey = async (name: string, options: CallOptions): Promise<KeyInfo | undefined> =>
    (await client.key.ls({ signal: options.signal, timeout: options.timeout })).find(key => key.name === name)

  /**
   * `/ipns/…` for a key name of this node, an IPNS name or peer id, an `/ipns/…` path, or (when no
   * local key has that name) a DNSLink domain.
   */
  const toIpnsPath = async (nameOrKey: string, options: CallOptions): Promise<string> => {
    if (typeof nameOrKey !== 'string' || nameOrKey.trim() === '')
      throw new InvalidArgumentError('name', 'expected a key name, an IPNS name (k51…) or an /ipns/ path')
    if (nameOrKey.startsWith('/ipns/')) {
      if (nameOrKey.length === '/ipns/'.length)
        throw new InvalidArgumentError('name', '"/ipns/" names nothing')
      return nameOrKey
    }
    if (isPeerId(nameOrKey)) return `/ipns/${nameOrKey}`
    if (nameOrKey.includes('/')) {
      throw new InvalidArgumentError(
        'name',
        `"${nameOrKey}" is neither a key name, an IPNS name (k51…) nor an /ipns/ path`
      )
    }
    const key = await findKey(nameOrKey, options)
    if (key != null) return `/ipns/${key.id}`
    if (nameOrKey.includes('.')) return `/ipns/${nameOrKey}`
    throw new IpnsKeyNotFoundError(
      nameOrKey,
      "is neither a key in this node's keystore nor an IPNS name (k51…)"
    )
  }

  const resolveIpns = async (nameOrKey: string, options: ResolveIpnsOptions = {}): Promise<string> => {
    const target = await toIpnsPath(nameOrKey, options)
    return await client.name.resolve(target, {
      nocache: options.nocache ?? publishedHere.has(target.slice('/ipns/'.length).split('/')[0] ?? ''),
      signal: options.signal,
      timeout: options.timeout
    })
  }

  const updateIpnsRecordFromCid = async (
    name: string,
    cid: string,
    options: IpnsRecordOptions = {}
  ): Promise<IpnsPublication> => {
    checkKeyName(name)
    checkPath(cid, 'cid')
    const value = cid.startsWith('/') ? cid : `/ipfs/${cid}`
    try {
      const published = await client.name.publish(value, {
        key: name,
        lifetime: options.lifetime,
        ttl: options.ttl,
        allowOffline: options.allowOffline,
        signal: options.signal,
        timeout: options.timeout
      })
      publishedHere.add(published.name)
      return published
    } catch (error) {
      if (isMissingKey(error)) throw new IpnsKeyNotFoundError(name, undefined, { cause: error })
      throw error
    }
  }

  return {
    /** Creates an IPNS key (a keypair) in this node's keystore and resolves with its id, the IPNS name. */
    createIpnsKey: async (name: string, options: CreateIpnsKeyOptions = {}): Promise<string> => {
      checkKeyName(name)
      if (options.size != null && (!Number.isSafeInteger(options.size) || options.size <= 0))
        throw new InvalidArgumentError('size', `expected a key size in bits, got ${options.size}`)
      return (
        await client.key.gen(name, {
          type: options.type,
          size: options.size,
          signal: options.signal,
          timeout: options.timeout
        })
      ).id
    },

    /** The keys in this node's keystore (`self`, the node's own, first), with their ids. */
    listIpnsKeys: async (options: CallOptions = {}): Promise<Array<{ name: string; id: string }>> =>
      (await client.key.ls({ signal: options.signal, timeout: options.timeout })).map(key => ({
        name: key.name,
        id: key.id
      })),

    /** Removes a key from the keystore; its name can no longer be updated (records already out stay until they expire). */
    deleteIpnsKey: async (name: string, options: CallOptions = {}): Promise<void> => {
      checkKeyName(name)
      if (name === 'self')
        throw new InvalidArgumentError('name', '"self" is the node\'s own key and cannot be deleted')
      try {
        await client.key.rm(name, { signal: options.signal, timeout: options.timeout })
      } catch (error) {
        if (isMissingKey(error)) throw new IpnsKeyNotFoundError(name, undefined, { cause: error })
        throw error
      }
    },

    /**
     * Publishes a local file or directory (see `publish`) and points the IPNS name of key `name` at
     * it; resolves with the name, the path and the CID.
     */
    updateIpnsRecord: async (
      name: string,
      localPath: string,
      options: UpdateIpnsRecordOptions = {}
    ): Promise<IpnsFilePublication> => {
      checkKeyName(name)
      if (typeof localPath !== 'string')
        throw new InvalidArgumentError('path', 'expected the local path of a file or directory')
      // Checked first so that a typo in the key name does not cost the upload of a large directory.
      if ((await findKey(name, options)) == null) throw new IpnsKeyNotFoundError(name)
      const cid = await content.publish(localPath, { ...options, onlyHash: false })
      return { ...(await updateIpnsRecordFromCid(name, cid, options)), cid }
    },

    /** Points the IPNS name of key `name` at a CID (or `/ipfs/…`, `/ipns/…` path). */
    updateIpnsRecordFromCid,

    /**
     * The `/ipfs/…` path an IPNS name points to now. Takes a key name of this node, an IPNS name or
     * peer id, an `/ipns/…` path, or a DNSLink domain.
     */
    resolveIpns,

    /** Resolves an IPNS name (as `resolveIpns` does) and downloads what it points to; resolves with that `/ipfs/…` path. */
    downloadIpnsRecord: async (
      name: string,
      destination: string,
      options: DownloadOptions & ResolveIpnsOptions = {}
    ): Promise<string> => {
      if (typeof destination !== 'string' || destination === '')
        throw new InvalidArgumentError('destination', 'expected a local path to save to')
      const resolved = await resolveIpns(name, options)
      await content.download(resolved, destination, options)
      return resolved
    },

    /** Resolves an IPNS name (as `resolveIpns` does) and reads the file it points to, in memory. */
    readIpnsRecord: async (
      name: string,
      options: ReadAllOptions & ResolveIpnsOptions = {}
    ): Promise<Uint8Array> => await content.read(await resolveIpns(name, options), options),

    /**
     * When the current IPNS record of a name expires: the record is fetched from the routing system
     * (this node's store first) and decoded.
     */
    getIpnsRecordValidity: async (name: string, options: CallOptions = {}): Promise<Date> => {
      const target = await toIpnsPath(name, options)
      const id = target.slice('/ipns/'.length)
      if (!isPeerId(id)) {
        throw new InvalidArgumentError(
          'name',
          `"${name}" is not an IPNS key name or IPNS name; DNSLink names have no IPNS record`
        )
      }
      const callOptions = { signal: options.signal, timeout: options.timeout }
      const record = await client.routing.get(`/ipns/${id}`, callOptions)
      const validity = (await client.name.inspect(record, { ...callOptions, dump: false })).entry.validity
      if (validity == null) throw new Error(`The IPNS record of ${id} carries no validity (EOL) time`)
      return validity
    }
  }
}
