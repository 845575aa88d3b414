import type { InvalidArgumentError } from '@tk/rpc'
import { describe, expect, it } from 'vitest'
import {
  checkContactName,
  classifyAddress,
  DEFAULT_SHARE_SCOPE,
  defaultContactsPath,
  MAX_NAME_LENGTH,
  selectAddressesToShare
} from '../src/index.js'
import { normalizeAddress, normalizePeerId, toContactKey } from '../src/validate.js'

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const OTHER_PEER = '12D3KooWGDMwwqrpcYKpKCgxuKT2NfqPqa94QnkbW6M7Ge5udoDw'
/** OTHER_PEER as a CIDv1 (libp2p-key, base32), as `ipfs id --peerid-base base32` prints it. */
const OTHER_PEER_AS_CID = 'bafzaajaiaejcaxykhmgsz2mhscluhm6bkliibattya2l2lld7dx6ij5lbnmgtwmg'

function invalid(run: () => unknown): InvalidArgumentError {
  try {
    run()
  } catch (error) {
    expect((error as Error).name).toBe('InvalidArgumentError')
    return error as InvalidArgumentError
  }
  throw new Error('expected an InvalidArgumentError')
}

describe('contact names', () => {
  it('are trimmed and NFC-normalized', () => {
    expect(checkContactName('  alice  ')).toBe('alice')
    // "é" as e + combining acute becomes the single code point.
    expect(checkContactName('Ame\u0301lie')).toBe('Am\u00e9lie')
  })

  it('refuses empty, too long, control characters and peer ids, naming the argument', () => {
    expect(invalid(() => checkContactName('   ')).message).toBe(
      'Invalid name: a contact name cannot be empty'
    )
    const long = invalid(() => checkContactName('x'.repeat(MAX_NAME_LENGTH + 1), 'newName'))
    expect(long.argument).toBe('newName')
    expect(long.message).toContain(`at most ${MAX_NAME_LENGTH}`)
    expect(checkContactName('😀'.repeat(MAX_NAME_LENGTH))).toHaveLength(MAX_NAME_LENGTH * 2)
    expect(invalid(() => checkContactName('bad\u0007name')).message).toContain('control characters')
    expect(invalid(() => checkContactName('two\nlines')).message).toContain('control characters')
    expect(invalid(() => checkContactName(PEER)).message).toContain('is a peer id')
    expect(invalid(() => checkContactName(42 as unknown as string)).message).toContain('expected a string')
  })
})

describe('peer ids and addresses', () => {
  it('canonicalizes a CID peer id to base58btc', () => {
    expect(normalizePeerId(OTHER_PEER_AS_CID)).toBe(OTHER_PEER)
    expect(toContactKey(OTHER_PEER_AS_CID)).toEqual({ kind: 'peerId', peerId: OTHER_PEER })
    expect(toContactKey(' bob ')).toEqual({ kind: 'name', name: 'bob' })
    expect(invalid(() => normalizePeerId('12D3KooWnotapeer')).argument).toBe('peerId')
  })

  it('strips a trailing /p2p/ of the contact and refuses one of another peer', () => {
    expect(normalizeAddress(`/ip4/192.0.2.1/tcp/4001/p2p/${PEER}`, PEER)).toBe('/ip4/192.0.2.1/tcp/4001')
    expect(normalizeAddress(`/ip6/0:0:0:0:0:0:0:1/udp/4001/quic-v1`, PEER)).toBe('/ip6/::1/udp/4001/quic-v1')
    // The same peer written as a CID still matches.
    expect(normalizeAddress(`/dns4/example.com/tcp/1/p2p/${OTHER_PEER_AS_CID}`, OTHER_PEER)).toBe(
      '/dns4/example.com/tcp/1'
    )
    // A relay address keeps the relay's /p2p/ and loses only the target's.
    const relayed = `/ip4/192.0.2.9/tcp/4001/p2p/${OTHER_PEER}/p2p-circuit`
    expect(normalizeAddress(`${relayed}/p2p/${PEER}`, PEER)).toBe(relayed)
    const wrong = invalid(() =>
      normalizeAddress(`/ip4/192.0.2.1/tcp/4001/p2p/${OTHER_PEER}`, PEER, 'addresses')
    )
    expect(wrong.argument).toBe('addresses')
    expect(wrong.message).toContain(`but the contact's peer id is ${PEER}`)
    expect(invalid(() => normalizeAddress(`/p2p/${PEER}`, PEER)).message).toContain('names only the peer')
    expect(invalid(() => normalizeAddress('192.0.2.1:4001', PEER)).message).toContain('is not a multiaddr')
    expect(invalid(() => normalizeAddress('/ip4/300.1.1.1/tcp/1', PEER)).message).toContain(
      'not a valid multiaddr'
    )
  })
})

describe('classifyAddress', () => {
  it.each([
    ['/ip4/127.0.0.1/tcp/4001', 'loopback'],
    ['/ip4/127.8.9.10/udp/4001/quic-v1', 'loopback'],
    ['/ip4/0.0.0.0/tcp/4001', 'loopback'],
    ['/ip6/::1/tcp/4001', 'loopback'],
    ['/ip6/::ffff:127.0.0.1/tcp/4001', 'loopback'],
    ['/dns/localhost/tcp/4001', 'loopback'],
    ['/dns4/node.localhost/tcp/4001', 'loopback'],
    ['/unix/%2Ftmp%2Fipfs.sock', 'loopback'],
    ['/ip4/10.1.2.3/tcp/4001', 'private'],
    ['/ip4/172.16.0.1/tcp/4001', 'private'],
    ['/ip4/172.31.255.255/tcp/4001', 'private'],
    ['/ip4/192.168.1.20/tcp/4001', 'private'],
    ['/ip4/169.254.3.4/tcp/4001', 'private'],
    ['/ip4/100.64.0.1/tcp/4001', 'private'],
    ['/ip6/fd12:3456::1/tcp/4001', 'private'],
    ['/ip6/fe80::1/tcp/4001', 'private'],
    ['/ip6zone/eth0/ip6/fe80::1/tcp/4001', 'private'],
    ['/ip6/::ffff:192.168.0.1/tcp/4001', 'private'],
    ['/dns4/printer.local/tcp/4001', 'private'],
    ['/dns/nas.home.arpa/tcp/4001', 'private'],
    ['/dns/myhost/tcp/4001', 'private'],
    ['/ip4/172.32.0.1/tcp/4001', 'public'],
    ['/ip4/100.128.0.1/tcp/4001', 'public'],
    ['/ip4/8.8.8.8/udp/4001/quic-v1', 'public'],
    ['/ip6/2001:db8::1/tcp/4001', 'public'],
    ['/dns4/example.com/tcp/443/wss', 'public'],
    ['/dnsaddr/bootstrap.libp2p.io', 'public'],
    [`/ip4/192.168.1.2/tcp/4001/p2p/${PEER}/p2p-circuit`, 'private']
  ])('%s is %s', (address, scope) => {
    expect(classifyAddress(address)).toBe(scope)
  })

  it('refuses what is not a multiaddr', () => {
    expect(invalid(() => classifyAddress('localhost:4001')).argument).toBe('address')
  })
})

describe('the share policy', () => {
  const addresses = [
    '/ip4/127.0.0.1/tcp/1',
    '/ip4/192.168.1.2/tcp/2',
    '/ip4/203.0.113.5/tcp/3',
    '/dns4/a.local/tcp/4'
  ]

  it('gives everything on this machine, private and public on the LAN, public elsewhere, in order', () => {
    expect(selectAddressesToShare(addresses, 'loopback')).toEqual(addresses)
    expect(selectAddressesToShare(addresses, 'lan')).toEqual([
      '/ip4/192.168.1.2/tcp/2',
      '/ip4/203.0.113.5/tcp/3',
      '/dns4/a.local/tcp/4'
    ])
    expect(selectAddressesToShare(addresses, 'public')).toEqual(['/ip4/203.0.113.5/tcp/3'])
    expect(DEFAULT_SHARE_SCOPE.public).toEqual(['public'])
  })

  it('can be changed per location and is checked', () => {
    expect(selectAddressesToShare(addresses, 'lan', { lan: ['private'] })).toEqual([
      '/ip4/192.168.1.2/tcp/2',
      '/dns4/a.local/tcp/4'
    ])
    // The other locations keep the default.
    expect(selectAddressesToShare(addresses, 'public', { lan: ['private'] })).toEqual([
      '/ip4/203.0.113.5/tcp/3'
    ])
    expect(
      invalid(() => selectAddressesToShare(addresses, 'lan', { lan: ['intranet' as 'private'] })).argument
    ).toBe('shareScope')
    expect(invalid(() => selectAddressesToShare(addresses, 'mars' as 'lan')).argument).toBe('forPeerOn')
  })
})

describe('defaultContactsPath', () => {
  it('follows TK_CONTACTS, then each platform’s data dir', () => {
    expect(defaultContactsPath({ env: { TK_CONTACTS: '/srv/contacts.json' } })).toBe('/srv/contacts.json')
    expect(defaultContactsPath({ env: {}, platform: 'linux', home: '/home/ann' })).toBe(
      '/home/ann/.local/share/tk/contacts.json'
    )
    expect(
      defaultContactsPath({ env: { XDG_DATA_HOME: '/data' }, platform: 'linux', home: '/home/ann' })
    ).toBe('/data/tk/contacts.json')
    // A relative XDG_DATA_HOME is invalid by the spec and ignored.
    expect(
      defaultContactsPath({ env: { XDG_DATA_HOME: 'data' }, platform: 'linux', home: '/home/ann' })
    ).toBe('/home/ann/.local/share/tk/contacts.json')
    expect(defaultContactsPath({ env: {}, platform: 'darwin', home: '/Users/ann' })).toBe(
      '/Users/ann/Library/Application Support/tk/contacts.json'
    )
    expect(
      defaultContactsPath({
        env: { LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local' },
        platform: 'win32',
        home: 'C:\\Users\\ann'
      })
    ).toBe('C:\\Users\\ann\\AppData\\Local\\tk\\contacts.json')
  })
})
