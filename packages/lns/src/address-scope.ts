import { BlockList } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '@tk/rpc'
import { checkMultiaddr } from '@tk/rpc/validate'

/**
 * Where an address can be reached from: `loopback` only from the same machine, `private` only from
 * the same local network (RFC 1918, link-local, CGNAT, IPv6 ULA, `.local` names), `public` from anywhere.
 */
export type AddressScope = 'loopback' | 'private' | 'public'

/** Where the peer we would give addresses to sits, seen from us. */
export type PeerLocation = 'loopback' | 'lan' | 'public'

/** For each location of the receiving peer, the scopes of addresses it may be given. */
export type ShareScope = { readonly [location in PeerLocation]?: readonly AddressScope[] }

/**
 * The default policy: a peer on this machine may be given every address, a peer on the LAN the
 * private and public ones, a peer elsewhere only public ones. Loopback and private addresses are
 * kept when they worked, but mean nothing (or someone else's machine) to a peer outside.
 */
export const DEFAULT_SHARE_SCOPE: Readonly<Record<PeerLocation, readonly AddressScope[]>> = Object.freeze({
  loopback: Object.freeze(['loopback', 'private', 'public'] as const),
  lan: Object.freeze(['private', 'public'] as const),
  public: Object.freeze(['public'] as const)
})

const SCOPES: readonly AddressScope[] = ['loopback', 'private', 'public']
const LOCATIONS: readonly PeerLocation[] = ['loopback', 'lan', 'public']

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
// 0.0.0.0/8 and :: mean "this host"; they are never reachable from elsewhere.
loopback.addSubnet('0.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')
loopback.addAddress('::', 'ipv6')

const privateRanges = new BlockList()
privateRanges.addSubnet('10.0.0.0', 8, 'ipv4')
privateRanges.addSubnet('172.16.0.0', 12, 'ipv4')
privateRanges.addSubnet('192.168.0.0', 16, 'ipv4')
privateRanges.addSubnet('169.254.0.0', 16, 'ipv4') // link-local
privateRanges.addSubnet('100.64.0.0', 10, 'ipv4') // carrier-grade NAT: not reachable from the internet
privateRanges.addSubnet('fc00::', 7, 'ipv6') // unique local
privateRanges.addSubnet('fe80::', 10, 'ipv6') // link-local
privateRanges.addSubnet('fec0::', 10, 'ipv6') // site-local (deprecated, still seen)

/** Name suffixes that only resolve inside a local network. */
const PRIVATE_NAME_SUFFIXES = ['.local', '.lan', '.home.arpa', '.internal', '.localdomain', '.intranet']

function classifyIp(value: string, family: 'ipv4' | 'ipv6'): AddressScope {
  // BlockList also matches IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) against IPv4 ranges.
  if (loopback.check(value, family)) return 'loopback'
  if (privateRanges.check(value, family)) return 'private'
  return 'public'
}

function classifyName(value: string): AddressScope {
  const name = value.toLowerCase().replace(/\.$/, '')
  if (name === 'localhost' || name.endsWith('.localhost')) return 'loopback'
  if (PRIVATE_NAME_SUFFIXES.some(suffix => name.endsWith(suffix)) || !name.includes('.')) return 'private'
  return 'public'
}

/**
 * Classifies a multiaddr by its first host part (for a relay address, the relay's): `ip4`/`ip6` by
 * range, `dns*` by name (`localhost` is loopback; `.local`, `.lan`, `.home.arpa`, `.internal` and
 * single-label names are private), `unix` as loopback, anything else (e.g. onion) as public.
 */
export function classifyAddress(address: string): AddressScope {
  const components = multiaddr(checkMultiaddr(address, 'address')).getComponents()
  for (const [index, component] of components.entries()) {
    const value = component.value ?? ''
    switch (component.name) {
      case 'ip4':
        return classifyIp(value, 'ipv4')
      case 'ip6':
        return classifyIp(value, 'ipv6')
      case 'ip6zone': {
        // A zone only makes sense for link-local (or loopback) addresses: never public.
        const next = components[index + 1]
        return next?.name === 'ip6' && classifyIp(next.value ?? '', 'ipv6') === 'loopback'
          ? 'loopback'
          : 'private'
      }
      case 'dns':
      case 'dns4':
      case 'dns6':
      case 'dnsaddr':
        return classifyName(value)
      case 'unix':
        return 'loopback'
      default:
        continue
    }
  }
  return 'public'
}

/** Returns the full policy: `shareScope` over {@link DEFAULT_SHARE_SCOPE}, checked. */
export function resolveShareScope(
  shareScope: ShareScope = {}
): Record<PeerLocation, readonly AddressScope[]> {
  if (shareScope == null || typeof shareScope !== 'object') {
    throw new InvalidArgumentError('shareScope', 'expected an object like { lan: ["private", "public"] }')
  }
  const result: Record<PeerLocation, readonly AddressScope[]> = { ...DEFAULT_SHARE_SCOPE }
  for (const [location, scopes] of Object.entries(shareScope)) {
    if (!LOCATIONS.includes(location as PeerLocation)) {
      throw new InvalidArgumentError(
        'shareScope',
        `unknown peer location "${location}" (use ${LOCATIONS.join(', ')})`
      )
    }
    if (!Array.isArray(scopes) || !scopes.every(scope => SCOPES.includes(scope as AddressScope))) {
      throw new InvalidArgumentError(
        'shareScope',
        `shareScope.${location} must be an array of ${SCOPES.map(scope => `"${scope}"`).join(', ')}`
      )
    }
    result[location as PeerLocation] = Object.freeze([...(scopes as AddressScope[])])
  }
  return result
}

/** Checks a peer location argument. */
export function checkPeerLocation(value: PeerLocation, argument = 'forPeerOn'): PeerLocation {
  if (!LOCATIONS.includes(value)) {
    throw new InvalidArgumentError(argument, `expected one of ${LOCATIONS.join(', ')}, got ${String(value)}`)
  }
  return value
}

/**
 * The addresses (in the given order) that may be offered to a peer at `forPeerOn` under the policy
 * `shareScope` (default {@link DEFAULT_SHARE_SCOPE}). Pure: no I/O.
 */
export function selectAddressesToShare(
  addresses: readonly string[],
  forPeerOn: PeerLocation,
  shareScope?: ShareScope
): string[] {
  const allowed = resolveShareScope(shareScope)[checkPeerLocation(forPeerOn)]
  return addresses.filter(address => allowed.includes(classifyAddress(address)))
}
