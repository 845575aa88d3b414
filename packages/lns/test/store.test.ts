import { getEventListeners } from 'node:events'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type CorruptStoreError, openContacts } from '../src/index.js'
import { randomPeerId, tempDir } from './helpers.js'

/** Writes `file`'s lock as held by a live holder (this process, no start time, just written), which no call takes as stale. */
async function holdLock(
  file: string
): Promise<{ pid: number; hostname: string; token: string; createdAt: string }> {
  const holder = { pid: process.pid, hostname: os.hostname(), token: 't', createdAt: 'now' }
  await fs.mkdir(path.dirname(file), { recursive: true })
  await fs.writeFile(`${file}.lock`, JSON.stringify(holder))
  return holder
}

describe('the contacts store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let file: string

  beforeEach(async () => {
    dir = await tempDir()
    file = path.join(dir.path, 'nested', 'contacts.json')
  })

  afterEach(async () => {
    await dir[Symbol.asyncDispose]()
  })

  const readFile = async (): Promise<{ version: number; contacts: Array<Record<string, unknown>> }> =>
    JSON.parse(await fs.readFile(file, 'utf8'))

  it('adds, finds, lists, renames and removes contacts, writing the versioned file', async () => {
    const alice = randomPeerId()
    const bob = randomPeerId()
    await using store = await openContacts({ path: file })
    expect(store.path).toBe(file)
    // Opening creates nothing: the first change does.
    await expect(fs.access(file)).rejects.toMatchObject({ code: 'ENOENT' })

    const added = await store.addContact(alice, '  Alice ', {
      addresses: [`/ip4/192.0.2.1/tcp/4001/p2p/${alice}`]
    })
    expect(added).toMatchObject({ name: 'Alice', peerId: alice })
    expect(added.addresses).toEqual([
      {
        multiaddr: '/ip4/192.0.2.1/tcp/4001',
        firstSeen: added.addedAt,
        lastSeen: added.addedAt,
        lastSuccess: undefined,
        successes: 0
      }
    ])
    await store.addContact(bob, 'bob')

    expect((await store.getContact('Alice'))?.peerId).toBe(alice)
    expect((await store.getContact(bob))?.name).toBe('bob')
    expect(await store.getContact('carol')).toBeUndefined()
    expect((await store.listContacts()).map(contact => contact.name)).toEqual(['Alice', 'bob'])

    expect((await store.renameContact(alice, 'alice')).name).toBe('alice')
    expect(await store.getContact('Alice')).toBeUndefined()

    const onDisk = await readFile()
    expect(onDisk.version).toBe(1)
    expect(onDisk.contacts).toEqual([
      {
        name: 'alice',
        peerId: alice,
        addedAt: added.addedAt.toISOString(),
        addresses: [
          {
            multiaddr: '/ip4/192.0.2.1/tcp/4001',
            firstSeen: added.addedAt.toISOString(),
            lastSeen: added.addedAt.toISOString(),
            successes: 0
          }
        ]
      },
      { name: 'bob', peerId: bob, addedAt: expect.any(String), addresses: [] }
    ])

    expect((await store.removeContact('bob')).peerId).toBe(bob)
    expect((await store.listContacts()).map(contact => contact.name)).toEqual(['alice'])
    await expect(store.removeContact('bob')).rejects.toMatchObject({
      name: 'ContactNotFoundError',
      query: 'bob'
    })
  })

  it('refuses duplicate names and peers with typed errors, and bad arguments by name', async () => {
    const alice = randomPeerId()
    await using store = await openContacts({ path: file })
    await store.addContact(alice, 'alice')
    await expect(store.addContact(randomPeerId(), ' alice')).rejects.toMatchObject({
      name: 'DuplicateContactError',
      field: 'name',
      value: 'alice'
    })
    await expect(store.addContact(alice, 'alice again')).rejects.toMatchObject({
      name: 'DuplicateContactError',
      field: 'peerId',
      existingName: 'alice'
    })
    const bob = randomPeerId()
    await store.addContact(bob, 'bob')
    await expect(store.renameContact('bob', 'alice')).rejects.toMatchObject({ name: 'DuplicateContactError' })
    await expect(store.renameContact('carol', 'dave')).rejects.toMatchObject({ name: 'ContactNotFoundError' })
    await expect(store.addContact('not-a-peer-id', 'x')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peerId'
    })
    await expect(store.addContact(randomPeerId(), '')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'name'
    })
    await expect(store.rememberAddresses('alice', [`/ip4/192.0.2.1/tcp/1/p2p/${bob}`])).rejects.toMatchObject(
      {
        name: 'InvalidArgumentError',
        argument: 'multiaddrs'
      }
    )
    await expect(store.forgetStaleAddresses({ olderThan: -1 })).rejects.toMatchObject({
      argument: 'olderThan'
    })
    // Nothing of the refused calls reached the file.
    expect((await store.listContacts()).map(contact => [contact.name, contact.addresses.length])).toEqual([
      ['alice', 0],
      ['bob', 0]
    ])
  })

  it('remembers addresses: new ones added, known ones seen again, no duplicates', async () => {
    const alice = randomPeerId()
    await using store = await openContacts({ path: file })
    const first = await store.addContact(alice, 'alice', { addresses: ['/ip4/192.0.2.1/tcp/4001'] })
    // A sleep that is needed: addresses rank by when they were last seen (ms); the next one is later.
    await new Promise(resolve => setTimeout(resolve, 5))
    const after = await store.rememberAddresses(alice, [
      '/ip4/192.0.2.1/tcp/4001',
      `/ip4/192.0.2.2/tcp/4001/p2p/${alice}`,
      '/ip4/192.0.2.2/tcp/4001'
    ])
    expect(after.addresses.map(address => address.multiaddr).sort()).toEqual([
      '/ip4/192.0.2.1/tcp/4001',
      '/ip4/192.0.2.2/tcp/4001'
    ])
    const known = after.addresses.find(address => address.multiaddr === '/ip4/192.0.2.1/tcp/4001')
    expect(known?.firstSeen).toEqual(first.addedAt)
    expect(known?.lastSeen.getTime()).toBeGreaterThan(first.addedAt.getTime())
  })

  it('forgets addresses not seen for longer than olderThan, in every contact', async () => {
    const alice = randomPeerId()
    const bob = randomPeerId()
    const now = Date.now()
    const at = (daysAgo: number): string => new Date(now - daysAgo * 86_400_000).toISOString()
    const address = (multiaddr: string, daysAgo: number) => ({
      multiaddr,
      firstSeen: at(100),
      lastSeen: at(daysAgo),
      successes: 1
    })
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(
      file,
      JSON.stringify({
        version: 1,
        contacts: [
          {
            name: 'alice',
            peerId: alice,
            addedAt: at(100),
            addresses: [address('/ip4/192.0.2.1/tcp/1', 1), address('/ip4/192.0.2.1/tcp/2', 40)]
          },
          { name: 'bob', peerId: bob, addedAt: at(100), addresses: [address('/ip4/192.0.2.2/tcp/1', 31)] }
        ]
      })
    )
    await using store = await openContacts({ path: file })
    const forgotten = await store.forgetStaleAddresses({ olderThan: 30 * 86_400_000 })
    expect(
      forgotten.map(entry => [entry.name, entry.multiaddr, entry.lastSeen.toISOString()]).sort()
    ).toEqual([
      ['alice', '/ip4/192.0.2.1/tcp/2', at(40)],
      ['bob', '/ip4/192.0.2.2/tcp/1', at(31)]
    ])
    expect((await store.getContact('alice'))?.addresses.map(entry => entry.multiaddr)).toEqual([
      '/ip4/192.0.2.1/tcp/1'
    ])
    expect((await store.getContact('bob'))?.addresses).toEqual([])
    // A date works as the cutoff too, and nothing is left to forget before it.
    expect(await store.forgetStaleAddresses({ olderThan: new Date(now - 2 * 86_400_000) })).toEqual([])
    expect(await store.forgetStaleAddresses({ olderThan: new Date(now) })).toHaveLength(1)
  })

  it('moves a corrupt file aside with its bytes, reports it, and carries on empty', async () => {
    const original = Buffer.from('{"version": 1, "contacts": [ {"name": "alice", "peerId": "12D3Koo')
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, original)
    const reports: CorruptStoreError[] = []
    await using store = await openContacts({ path: file, onCorrupt: error => reports.push(error) })
    expect(reports).toHaveLength(1)
    const [report] = reports
    expect(report).toMatchObject({ name: 'CorruptStoreError', path: file })
    expect(report?.reason).toMatch(/^not JSON/)
    expect(path.basename(report?.movedTo ?? '')).toMatch(/^contacts\.json\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/)
    expect(await fs.readFile(report?.movedTo ?? '')).toEqual(original)
    await expect(fs.access(file)).rejects.toMatchObject({ code: 'ENOENT' })

    expect(await store.listContacts()).toEqual([])
    const alice = randomPeerId()
    await store.addContact(alice, 'alice')
    expect((await readFile()).contacts.map(contact => contact.peerId)).toEqual([alice])
    // The copy aside is left alone, and reported once only.
    expect(await fs.readFile(report?.movedTo ?? '')).toEqual(original)
    expect(reports).toHaveLength(1)
  })

  it('treats valid JSON with invalid content as corrupt, and without onCorrupt emits a warning', async () => {
    await fs.mkdir(path.dirname(file), { recursive: true })
    const content = JSON.stringify({
      version: 1,
      contacts: [{ name: 'x', peerId: 'nope', addedAt: 'x', addresses: [] }]
    })
    await fs.writeFile(file, content)
    const warnings: Error[] = []
    const onWarning = (warning: Error): void => {
      warnings.push(warning)
    }
    process.on('warning', onWarning)
    try {
      await using store = await openContacts({ path: file })
      await new Promise(resolve => setImmediate(resolve))
      expect(warnings.map(warning => warning.name)).toEqual(['CorruptStoreError'])
      expect((warnings[0] as CorruptStoreError).reason).toContain('contacts[0].peerId')
      expect(await fs.readFile((warnings[0] as CorruptStoreError).movedTo, 'utf8')).toBe(content)
      expect(await store.listContacts()).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('refuses a file of a newer format without touching it', async () => {
    await fs.mkdir(path.dirname(file), { recursive: true })
    const content = JSON.stringify({ version: 2, people: [] })
    await fs.writeFile(file, content)
    await expect(openContacts({ path: file })).rejects.toMatchObject({
      name: 'UnsupportedStoreVersionError',
      version: 2
    })
    expect(await fs.readFile(file, 'utf8')).toBe(content)
    expect(await fs.readdir(path.dirname(file))).toEqual(['contacts.json'])
  })

  it('keeps fields it does not know when it rewrites the file', async () => {
    const alice = randomPeerId()
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(
      file,
      JSON.stringify({
        version: 1,
        note: 'kept',
        contacts: [
          { name: 'alice', peerId: alice, addedAt: new Date().toISOString(), addresses: [], avatar: 'a.png' }
        ]
      })
    )
    await using store = await openContacts({ path: file })
    await store.addContact(randomPeerId(), 'bob')
    const onDisk = (await readFile()) as unknown as { note: string; contacts: Array<{ avatar?: string }> }
    expect(onDisk.note).toBe('kept')
    expect(onDisk.contacts[0]?.avatar).toBe('a.png')
  })

  it('uses TK_CONTACTS when no path is given', async () => {
    const saved = process.env.TK_CONTACTS
    process.env.TK_CONTACTS = file
    try {
      await using store = await openContacts()
      expect(store.path).toBe(file)
      await store.addContact(randomPeerId(), 'alice')
      expect((await readFile()).contacts.map(contact => contact.name)).toEqual(['alice'])
    } finally {
      if (saved === undefined) delete process.env.TK_CONTACTS
      else process.env.TK_CONTACTS = saved
    }
  })

  it('loses nothing when two stores on one file in one process change it at once', async () => {
    await using first = await openContacts({ path: file })
    await using second = await openContacts({ path: file })
    const ids = Array.from({ length: 60 }, () => randomPeerId())
    await Promise.all(
      ids.map((id, index) => (index % 2 === 0 ? first : second).addContact(id, `peer-${index}`))
    )
    expect((await first.listContacts()).map(contact => contact.peerId).sort()).toEqual([...ids].sort())
    // Every lock was released, and no temp file is left.
    expect(await fs.readdir(path.dirname(file))).toEqual(['contacts.json'])
  })

  it('offers each peer only the addresses its location can use, best first, with /p2p/', async () => {
    const alice = randomPeerId()
    const addresses = ['/ip4/127.0.0.1/tcp/4001', '/ip4/192.168.1.7/tcp/4001', '/ip4/198.51.100.7/tcp/4001']
    await using store = await openContacts({ path: file })
    await store.addContact(alice, 'alice', { addresses })
    const share = async (forPeerOn: 'loopback' | 'lan' | 'public'): Promise<string[]> =>
      (await store.addressesToShare('alice', { forPeerOn })).map(address =>
        address.replace(`/p2p/${alice}`, '')
      )
    expect(await store.addressesToShare('alice', { forPeerOn: 'public' })).toEqual([
      `/ip4/198.51.100.7/tcp/4001/p2p/${alice}`
    ])
    expect((await share('lan')).sort()).toEqual(addresses.slice(1).sort())
    expect((await share('loopback')).sort()).toEqual([...addresses].sort())
    await expect(store.addressesToShare('bob', { forPeerOn: 'lan' })).rejects.toMatchObject({
      name: 'ContactNotFoundError'
    })

    // A stricter policy: LAN peers get only LAN addresses.
    await using strict = await openContacts({ path: file, shareScope: { lan: ['private'] } })
    expect(await strict.addressesToShare('alice', { forPeerOn: 'lan' })).toEqual([
      `/ip4/192.168.1.7/tcp/4001/p2p/${alice}`
    ])
    await expect(
      openContacts({ path: file, shareScope: { lan: ['everything' as 'public'] } })
    ).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'shareScope'
    })
  })

  it('refuses calls after close() and closes once', async () => {
    const store = await openContacts({ path: file })
    await store.close()
    await store.close()
    await expect(store.listContacts()).rejects.toMatchObject({ name: 'StoreClosedError' })
  })

  it('reports a lock held too long as StoreLockTimeoutError, bounded by the call’s timeout', async () => {
    await using store = await openContacts({ path: file })
    const holder = await holdLock(file)
    const started = Date.now()
    await expect(store.addContact(randomPeerId(), 'alice', { timeout: 150 })).rejects.toMatchObject({
      name: 'StoreLockTimeoutError',
      holder
    })
    expect(Date.now() - started).toBeLessThan(2000)
    await fs.rm(`${file}.lock`)
    expect((await store.addContact(randomPeerId(), 'alice')).name).toBe('alice')
  })

  it('a call queued behind another in this process ends at its own timeout or abort, leaving no listener', async () => {
    await using store = await openContacts({ path: file })
    // The first call waits on the file lock and holds this process's turn, so the calls after it wait
    // for their turn in memory.
    const holder = await holdLock(file)
    const first = store.addContact(randomPeerId(), 'first', { timeout: 30_000 })

    const started = Date.now()
    await expect(store.addContact(randomPeerId(), 'second', { timeout: 200 })).rejects.toMatchObject({
      name: 'StoreLockTimeoutError',
      holder
    })
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(190)
    expect(waited).toBeLessThan(2_200)

    const reason = new Error('the user gave up')
    const controller = new AbortController()
    const third = store.addContact(randomPeerId(), 'third', { signal: controller.signal })
    controller.abort(reason)
    await expect(third).rejects.toBe(reason)

    // One long-lived signal for many calls: each wait removes what it added to it.
    const longLived = new AbortController().signal
    const fourth = store.addContact(randomPeerId(), 'fourth', { signal: longLived })
    await fs.rm(`${file}.lock`)
    expect((await first).name).toBe('first')
    expect((await fourth).name).toBe('fourth')
    expect(getEventListeners(longLived, 'abort')).toHaveLength(0)
    expect((await store.listContacts()).map(contact => contact.name)).toEqual(['first', 'fourth'])
  })
})
