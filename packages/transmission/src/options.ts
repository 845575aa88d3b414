import { type CallOptions, InvalidArgumentError } from '@tk/rpc'
import { checkPeerId, checkProtocol } from '@tk/rpc/validate'

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
  /** No byte from the peer for this long fails the transmission (ms); default 30 000. */
  idleTimeout?: number
}

export const DEFAULT_TIMEOUT = 60_000
export const DEFAULT_IDLE_TIMEOUT = 30_000
/** Plaintext bytes per chunk frame. */
export const CHUNK_SIZE = 256 * 1024
/** Largest control frame (accept, error, close, …) either side accepts. */
export const MAX_CONTROL_FRAME = 64 * 1024
/** Largest file metadata a sender takes (bytes, before base64): what the Python toolkit allowed. */
export const MAX_METADATA_BYTES = 48 * 1024
/**
 * Largest `open` frame a listener accepts: a control frame's room plus the metadata, which
 * travels as base64 (4 bytes per 3), so that metadata of exactly {@link MAX_METADATA_BYTES} fits
 * with any file name a file system allows (128 KiB).
 */
export const MAX_OPEN_FRAME = MAX_CONTROL_FRAME + Math.ceil(MAX_METADATA_BYTES / 3) * 4
/** Room for what an `encrypt` callback adds to a chunk (nonce, tag, padding). */
export const ENCRYPTION_ALLOWANCE = 64 * 1024
export const DEFAULT_MAX_MESSAGE_SIZE = 32 * 1024 * 1024

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

/** One call's deadline: `signal` aborts with the caller's reason, or a `TimeoutError` after `timeout` ms. */
export interface Deadline {
  readonly signal: AbortSignal
  /** Stops the timer and lets go of the caller's signal; call it once the call has settled. */
  clear(): void
}

/**
 * The caller's signal and timeout (ms; `Infinity`: none) as one signal. Not
 * `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: on Node 20 the timeout signal inside it
 * can be garbage-collected before it fires, and the call then never times out. A timer of our
 * own holds the controller until it fires or `clear()` runs.
 */
export function callDeadline(options: CallOptions, defaultTimeout = DEFAULT_TIMEOUT): Deadline {
  const timeout = options.timeout ?? defaultTimeout
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new InvalidArgumentError(
      'timeout',
      `expected milliseconds (a number >= 0, or Infinity), got ${timeout}`
    )
  }
  const controller = new AbortController()
  const outer = options.signal
  const onAbort = (): void => controller.abort(outer?.reason)
  if (outer?.aborted === true) controller.abort(outer.reason)
  else outer?.addEventListener('abort', onAbort, { once: true })
  const timer = Number.isFinite(timeout)
    ? setTimeout(() => {
        controller.abort(new DOMException(`The operation timed out after ${timeout} ms`, 'TimeoutError'))
      }, timeout)
    : undefined
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      outer?.removeEventListener('abort', onAbort)
    }
  }
}

/** Runs `call` under the caller's deadline, and clears it however `call` settles. */
export async function withDeadline<T>(
  options: CallOptions,
  defaultTimeout: number,
  call: (signal: AbortSignal) => Promise<T>
): Promise<T> {
  const deadline = callDeadline(options, defaultTimeout)
  try {
    return await call(deadline.signal)
  } finally {
    deadline.clear()
  }
}

export function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(name, `expected a positive number, got ${value}`)
  }
}
