import path from 'node:path'
import { openContacts } from '@tk/lns'
import { describe, expect, it } from 'vitest'
import { contactsOnly, listenForTransmissions, transmitData } from '../src/index.js'
import { sha256, usePair, useTemporaryDirectory } from './helpers.js'

// No routing: nothing redials a peer the test disconnected, and only the contact can reconnect it.
const pair = usePair({ config: { Routing: { Type: 'none' } } })
const tmp = useTemporaryDirectory('tx-contacts')

describe('contacts (@tk/lns) with transmission', () => {
  it('sends to a contact by name, reconnecting through its remembered address first', async () => {
    const { a, b } = pair
    await using contacts = await openContacts({ path: path.join(tmp.path, 'a.json'), client: a.ipfs.client })
    await contacts.addContact(b.node.peerId, 'bob', { addresses: [...b.node.swarmAddrs] })
    const received: Array<{ text: string; peerId: string }> = []
    await using _listener = await listenForTransmissions(
      'inbox',
      (data, peerId) => void received.push({ text: new TextDecoder().decode(data), peerId }),
      { ipfs: b.ipfs }
    )
    // Every connection to B, whichever side opened it.
    await a.ipfs.client.swarm.disconnect(`/p2p/${b.node.peerId}`)
    expect((await a.ipfs.client.swarm.peers()).map(peer => peer.peerId)).not.toContain(b.node.peerId)

    await transmitData('hi bob', 'bob', 'inbox', { ipfs: a.ipfs, contacts })
    await expect.poll(() => received).toEqual([{ text: 'hi bob', peerId: a.node.peerId }])
    const bob = await contacts.getContact('bob')
    expect(bob?.addresses.reduce((sum, address) => sum + address.successes, 0)).toBeGreaterThanOrEqual(1)

    await expect(transmitData('x', 'carol', 'inbox', { ipfs: a.ipfs, contacts })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peerId'
    })
  })

  it('contactsOnly lets only contacts through', async () => {
    const { a, b } = pair
    await using bobsContacts = await openContacts({
      path: path.join(tmp.path, 'b.json'),
      client: b.ipfs.client
    })
    const received: string[] = []
    await using _listener = await listenForTransmissions(
      'friends',
      data => void received.push(sha256(data)),
      {
        ipfs: b.ipfs,
        allow: contactsOnly(bobsContacts)
      }
    )
    await expect(transmitData('stranger', b.node.peerId, 'friends', { ipfs: a.ipfs })).rejects.toMatchObject({
      code: 'forbidden'
    })
    await bobsContacts.addContact(a.node.peerId, 'alice')
    await transmitData('friend', b.node.peerId, 'friends', { ipfs: a.ipfs })
    await expect.poll(() => received).toEqual([sha256(new TextEncoder().encode('friend'))])
  })
})
