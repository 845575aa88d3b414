import { ipfs as defaultIpfs, type Ipfs } from '@tk/api'
import { type CallOptions, checkPeerId, checkProtocol, InvalidArgumentError, type KuboClient } from '@tk/rpc'

export type { CallOptions }

/** Bytes → bytes, applied to every payload (each chunk, each conversation message). */
export type Transform = (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>

export interface PeerOptions extends CallOptions {
  /** The node to use; default @tk/api's `ipfs` (IPFS_API, the repo's api file, 127.0.0.1:5001). */
  ipfs?: Ipfs
  /** No byte from the peer for this long fails the transmission (ms); default 30 000. */
  idleTimeout?: number
}

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
