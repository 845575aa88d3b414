import type { DownloadOptions, PublishOptions, ReadAllOptions } from './content.js'
import type { CallOptions } from './options.js'

export interface CreateIpnsKeyOptions extends CallOptions {
  /** The key type; default `ed25519` (names start with `k51…`). */
  type?: 'ed25519' | 'rsa' | 'secp256k1'
  /** Key size in bits, for RSA only (e.g. 2048, 4096). */
  size?: number
}

export interface IpnsKey {
  /** The key's name in the keystore (`self` is the node's own). */
  name: string
  /** Its id: the IPNS name (`k51…`). */
  id: string
}

export interface IpnsRecordOptions extends CallOptions {
  /** How long the signed record stays valid (ms); default 48 h. */
  lifetime?: number
  /** How long resolvers may cache the record (ms); default 5 min. */
  ttl?: number
  /** Store the record locally even when the node cannot reach the network. */
  allowOffline?: boolean
}

export interface PublishIpnsFileOptions extends IpnsRecordOptions, Omit<PublishOptions, 'onlyHash'> {}

export interface ResolveIpnsOptions extends CallOptions {
  /** Ask the network instead of answering from this node's cache of resolved names. */
  nocache?: boolean
}

export interface IpnsPublication {
  /** The IPNS name (the key's id, `k51…`). */
  name: string
  /** The path it now points to, e.g. `/ipfs/bafy…`. */
  value: string
}

export interface IpnsFilePublication extends IpnsPublication {
  /** The CID of what was published. */
  cid: string
}

/**
 * IPNS: keys, publishing records, resolving names.
 */
export interface Ipns {
  /** Creates a key in this node's keystore and resolves with its id, the IPNS name. */
  createKey(name: string, options?: CreateIpnsKeyOptions): Promise<string>
  /** The keys in this node's keystore (`self` first). */
  listKeys(options?: CallOptions): Promise<IpnsKey[]>
  /** Removes a key; its name can no longer be updated. */
  deleteKey(name: string, options?: CallOptions): Promise<void>
  /** Points the IPNS name of key `keyName` at a CID (or `/ipfs/…`, `/ipns/…` path). */
  publish(keyName: string, cid: string, options?: IpnsRecordOptions): Promise<IpnsPublication>
  /** Publishes a local file or directory (as `content.publish`) and points key `keyName`'s name at it. */
  publishFile(
    keyName: string,
    localPath: string,
    options?: PublishIpnsFileOptions
  ): Promise<IpnsFilePublication>
  /** The `/ipfs/…` path a name points to now: a key name of this node, an IPNS name, or an `/ipns/…` path. */
  resolve(nameOrKey: string, options?: ResolveIpnsOptions): Promise<string>
  /** Resolves a name and reads the file it points to, in memory. */
  read(nameOrKey: string, options?: ReadAllOptions & ResolveIpnsOptions): Promise<Uint8Array>
  /** Resolves a name and downloads what it points to; resolves with that `/ipfs/…` path. */
  download(
    nameOrKey: string,
    destination: string,
    options?: DownloadOptions & ResolveIpnsOptions
  ): Promise<string>
}
