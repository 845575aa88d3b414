import { ipfs as defaultIpfs, type Ipfs } from '@tk/api'
import { type CallOptions, checkPeerId, checkProtocol, InvalidArgumentError, type KuboClient } from '@tk/rpc'

export type { CallOptions }

/** Bytes → bytes, applied to every payload (each chunk, each conversation message). */
export type Transform = (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>

/**
 * Where peer names come from: a contact store of @tk/lns (`openContacts()`) fits as it is. With
 * one, every `peerId` argument may also be a contact's name, and a contact is reconnected
 * through its remembered addresses before the stream opens.
 */
export interface ContactBook {
  getContact(nameOrPeerId: string, options?: CallOptions): Promise<{ peerId: string } | undefined>
  ensureConnected(nameOrPeerId: string, options?: CallOptions): Promise<unknown>
}

export interface PeerOptions extends CallOptions {
  /** Lets `peerId` be a contact name, and reconnects contacts first (see {@link ContactBook}). */
  contacts?: ContactBook
  /** The node to use; default @tk/api's `ipfs` (IPFS_API, the repo's api file, 127.0.0.1:5001). */
  ipfs?: Ipfs
  /** No byte from the peer for this long fails the transmission (ms); default 30 000. */
  idleTimeout?: number
}

// --- Python IPFS-Toolkit compatibility (src/python/) ---
/** The wire format a sender speaks: ours (PROTOCOL.md, default) or the Python IPFS-Toolkit 0.5.x's. */
export type WireProtocol = 'tk' | 'ipfs-toolkit-py'

export interface WireProtocolOptions {
  /** `ipfs-toolkit-py` to reach a listener of the Python IPFS-Toolkit; default `tk`. */
  protocol?: WireProtocol
  /** `ipfs-toolkit-py` files only: undoes the receiver's encryption of its `ready` answer. */
  decrypt?: Transform
}
// --- end Python IPFS-Toolkit compatibility ---

export const DEFAULT_TIMEOUT = 60_000
export const DEFAULT_IDLE_TIMEOUT = 30_000
/** Plaintext bytes per chunk frame. */
export const CHUNK_SIZE = 256 * 1024
/** Largest control frame (open, accept, error, …) either side accepts. */
export const MAX_CONTROL_FRAME = 64 * 1024
/** Room for what an `encrypt` callback adds to a chunk (nonce, tag, padding). */
export const ENCRYPTION_ALLOWANCE = 64 * 1024
export const DEFAULT_MAX_MESSAGE_SIZE = 32 * 1024 * 1024

export function clientOf(options: { ipfs?: Ipfs }): KuboClient {
  return (options.ipfs ?? defaultIpfs).client
}

/** `inbox` and `/x/inbox` both name the protocol `/x/inbox`. */
export function protocolFor(listenerName: string): string {
  if (typeof listenerName !== 'string' || listenerName.trim() === '') {
    throw new InvalidArgumentError('listenerName', 'expected a non-empty name such as "inbox"')
  }
  const protocol = listenerName.startsWith('/x/') ? listenerName : `/x/${listenerName}`
  if (/\s/.test(protocol))
    throw new InvalidArgumentError('listenerName', `"${listenerName}" contains whitespace`)
  return checkProtocol(protocol, false, 'listenerName')
}

export function checkedPeerId(peerId: string): string {
  return checkPeerId(peerId, 'peerId')
}

/** The peer id for `peerIdOrName`: a contact's (reconnected through its known addresses) or the id itself. */
export async function resolvePeer(
  peerIdOrName: string,
  options: PeerOptions,
  signal: AbortSignal
): Promise<string> {
  if (options.contacts == null) return checkedPeerId(peerIdOrName)
  const contact = await options.contacts.getContact(peerIdOrName, { signal })
  if (contact == null) {
    try {
      return checkedPeerId(peerIdOrName)
    } catch {
      throw new InvalidArgumentError(
        'peerId',
        `"${peerIdOrName}" is neither a peer id nor one of your contacts`
      )
    }
  }
  await options.contacts.ensureConnected(peerIdOrName, { signal })
  return contact.peerId
}

/** A listener `allow` hook that serves only the peers in `contacts`. */
export function contactsOnly(
  contacts: Pick<ContactBook, 'getContact'>
): (peerId: string) => Promise<boolean> {
  return async peerId => (await contacts.getContact(peerId)) != null
}

/** The caller's signal and timeout as one signal. */
export function callSignal(options: CallOptions, defaultTimeout = DEFAULT_TIMEOUT): AbortSignal {
  const timeout = options.timeout ?? defaultTimeout
  return AbortSignal.any([
    ...(options.signal == null ? [] : [options.signal]),
    ...(Number.isFinite(timeout) ? [AbortSignal.timeout(timeout)] : [])
  ])
}

export function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(name, `expected a positive number, got ${value}`)
  }
}
