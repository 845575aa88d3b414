import { multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '@tk/rpc'
import { checkMultiaddr, checkPeerId } from '@tk/rpc/validate'
import { MAX_NAME_LENGTH } from './constants.js'

/** The multiaddr protocol code of `/p2p/<peerId>`. */
const P2P_CODE = 421

/** C0/C1 controls and the line/paragraph separators: invisible, and they break one-line listings. */
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029]/u

function isPeerId(value: string): boolean {
  try {
    checkPeerId(value)
    return true
  } catch {
    // Not a peer id is an answer here, not a failure.
    return false
  }
}

/**
 * Checks a peer id and returns its canonical form (base58btc, `12D3KooW…` / `Qm…`), the one Kubo
 * prints in `swarm peers`, so a contact added as a CIDv1 (`bafz…`, `k51…`) still matches.
 */
export function normalizePeerId(value: string, argument = 'peerId'): string {
  checkPeerId(value, argument)
  // A /p2p/ component stores the multihash; printing it back gives the base58btc form.
  const component = multiaddr(multiaddr(`/p2p/${value}`).bytes).getComponents()[0]
  const canonical = component?.value
  if (canonical == null) throw new InvalidArgumentError(argument, `"${value}" is not a peer id`)
  return canonical
}

/**
 * Checks a contact name and returns it as stored: NFC-normalized and trimmed. A name must not be
 * empty, longer than {@link MAX_NAME_LENGTH} code points, contain control characters, or be a peer id
 * (a name that is another contact's peer id would make lookups ambiguous).
 */
export function checkContactName(value: string, argument = 'name'): string {
  if (typeof value !== 'string')
    throw new InvalidArgumentError(argument, `expected a string, got ${typeof value}`)
  const name = value.normalize('NFC').trim()
  if (name === '') throw new InvalidArgumentError(argument, 'a contact name cannot be empty')
  const length = [...name].length
  if (length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(
      argument,
      `"${name.slice(0, 20)}…" is ${length} characters long; a contact name may have at most ${MAX_NAME_LENGTH}`
    )
  }
  if (CONTROL_CHARACTERS.test(name)) {
    throw new InvalidArgumentError(argument, `${JSON.stringify(name)} contains control characters`)
  }
  if (isPeerId(name)) {
    throw new InvalidArgumentError(
      argument,
      `"${name}" is a peer id; give the contact a name people can read (the peer id is its first argument)`
    )
  }
  return name
}

/** A lookup key: a contact name, or a peer id in canonical form. */
export type ContactKey = { kind: 'peerId'; peerId: string } | { kind: 'name'; name: string }

/** Tells whether `value` is a peer id or a name, checking it as such. */
export function toContactKey(value: string, argument = 'nameOrPeerId'): ContactKey {
  if (typeof value === 'string' && isPeerId(value.trim())) {
    return { kind: 'peerId', peerId: normalizePeerId(value.trim(), argument) }
  }
  return { kind: 'name', name: checkContactName(value, argument) }
}

/**
 * Checks an address of the peer `peerId` and returns it in canonical form without the trailing
 * `/p2p/<peerId>`. A trailing `/p2p/` naming another peer is refused: it is some other peer's address.
 */
export function normalizeAddress(value: string, peerId: string, argument = 'multiaddrs'): string {
  const address = multiaddr(checkMultiaddr(value, argument))
  const components = address.getComponents()
  const last = components.at(-1)
  let transport = components
  if (last?.code === P2P_CODE) {
    const target = last.value == null ? undefined : normalizePeerId(last.value, argument)
    if (target !== peerId) {
      throw new InvalidArgumentError(
        argument,
        `"${value}" ends in /p2p/${last.value}, but the contact's peer id is ${peerId}`
      )
    }
    transport = components.slice(0, -1)
  }
  if (transport.length === 0) {
    throw new InvalidArgumentError(
      argument,
      `"${value}" names only the peer; give an address to dial, e.g. /ip4/192.0.2.1/tcp/4001`
    )
  }
  return multiaddr(transport).toString()
}

/** Checks a list of addresses (or one), returning them normalized, without duplicates, in order. */
export function normalizeAddresses(
  values: string | readonly string[],
  peerId: string,
  argument = 'multiaddrs'
): string[] {
  const list = typeof values === 'string' ? [values] : values
  if (!Array.isArray(list))
    throw new InvalidArgumentError(argument, 'expected a multiaddr or an array of them')
  return [...new Set(list.map(value => normalizeAddress(value, peerId, argument)))]
}

/** Checks that `value` is a whole number of ms >= `minimum`, or undefined. */
export function checkMilliseconds(
  value: number | undefined,
  argument: string,
  minimum = 0
): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < minimum) {
    throw new InvalidArgumentError(argument, `expected a number of ms >= ${minimum}, got ${String(value)}`)
  }
  return value
}
