import os from 'node:os'
import path from 'node:path'
import { type CallOptions, createKuboClient, InvalidArgumentError, type KuboClient } from '@tk/rpc'
import { raceSignal } from 'race-signal'
import {
  type AddressScope,
  checkPeerLocation,
  type PeerLocation,
  resolveShareScope,
  type ShareScope,
  selectAddressesToShare
} from './address-scope.js'
import { type ConnectResult, connectToPeer } from './connect.js'
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_DIAL_CONCURRENCY,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_LOCK_TIMEOUT,
  STORE_FORMAT_VERSION
} from './constants.js'
import { defaultContactsPath } from './data-dir.js'
import {
  ContactNotFoundError,
  CorruptStoreError,
  DuplicateContactError,
  StoreClosedError,
  StoreLockTimeoutError
} from './errors.js'
import { acquireFileLock, type LockHolder, readLockHolder } from './file-lock.js'
import { contactsNodeFromKuboClient } from './kubo-node.js'
import type { ContactsNode } from './node.js'
import {
  emptyStore,
  moveAside,
  rankAddresses,
  readStoreFile,
  removeTempFiles,
  type StoreData,
  type StoredAddress,
  type StoredContact,
  writeStoreFile
} from './store-file.js'
import {
  type ContactKey,
  checkContactName,
  checkMilliseconds,
  normalizeAddresses,
  normalizePeerId,
  toContactKey
} from './validate.js'

/** @deprecated The old name of @tk/rpc's `CallOptions`, which every call takes. */
export type AbortOptions = CallOptions

/** A known address of a contact. */
export interface KnownAddress {
  /** The multiaddr, without `/p2p/<peerId>`. */
  multiaddr: string
  /** When it was first remembered. */
  firstSeen: Date
  /** When it was last remembered or used. */
  lastSeen: Date
  /** When a connection last used it; undefined while none has. */
  lastSuccess: Date | undefined
  /** How many connections used it. */
  successes: number
}

/** A peer with a name, and where it has been found. */
export interface Contact {
  name: string
  /** Canonical base58btc form (`12D3KooW…`). */
  peerId: string
  addedAt: Date
  /** Best first: most recently successful, then most successes, then most recently seen. */
  addresses: KnownAddress[]
}

export interface AddContactOptions extends CallOptions {
  /** Addresses to remember from the start (a trailing `/p2p/<peerId>` must name this peer). */
  addresses?: readonly string[]
}

export interface ForgetStaleAddressesOptions extends CallOptions {
  /** Forget addresses last seen longer ago than this many ms, or before this date. */
  olderThan: number | Date
}

/** An address `forgetStaleAddresses` removed. */
export interface ForgottenAddress {
  name: string
  peerId: string
  multiaddr: string
  lastSeen: Date
}

export interface AddressesToShareOptions extends CallOptions {
  /** Where the peer that would receive the addresses sits, seen from us. */
  forPeerOn: PeerLocation
}

export interface EnsureConnectedOptions extends CallOptions {
  /** A deadline for the whole call (ms); default the store's `connectTimeout` (30 s). */
  timeout?: number
}

/** Reports a corrupt store that was moved aside. */
export type CorruptStoreHandler = (error: CorruptStoreError) => void

export interface ContactsInit extends CallOptions {
  /** The contacts file; default `TK_CONTACTS`, else `<user data dir>/tk/contacts.json`. */
  path?: string
  /**
   * The node `ensureConnected` connects: any @tk/interface `Ipfs` (@tk/api's `createIpfs()` on Kubo,
   * @tk/embedded's `createEmbeddedIpfs()` in this process), or just its `peers` calls. The caller
   * keeps it (`close()` leaves it open). Default: a Kubo client (`createKuboClient()`) made on first
   * need and closed by `close()`.
   */
  ipfs?: ContactsNode
  /**
   * @deprecated Pass `ipfs` instead: `openContacts({ ipfs: createIpfs() })` (@tk/api) talks to the same
   * Kubo node. A @tk/rpc client given here is still used (and left open by `close()`).
   */
  client?: KuboClient
  /**
   * Called when the file is corrupt or unreadable, after it was moved aside. Without it, the report is
   * emitted as a process warning (`process.on('warning')`), never dropped.
   */
  onCorrupt?: CorruptStoreHandler
  /** How long a call waits for another writer's lock (ms); default 10 000. */
  lockTimeout?: number
  /** Which addresses `addressesToShare` may give to peers where; see {@link DEFAULT_SHARE_SCOPE}. */
  shareScope?: ShareScope
  /** How many remembered addresses are dialled at once; default 4. */
  dialConcurrency?: number
  /** How long one dial may take (ms); default 10 000. */
  dialTimeout?: number
  /** Default `timeout` of `ensureConnected` (ms); default 30 000. */
  connectTimeout?: number
}

/** A contacts store: one JSON file, safe to share between processes. */
export interface ContactStore extends AsyncDisposable {
  /** The contacts file. */
  readonly path: string
  /** Adds a contact; throws {@link DuplicateContactError} if the name or the peer is taken. */
  addContact(peerId: string, name: string, options?: AddContactOptions): Promise<Contact>
  /** The contact with this name or peer id, or undefined. */
  getContact(nameOrPeerId: string, options?: CallOptions): Promise<Contact | undefined>
  /** Every contact, by name. */
  listContacts(options?: CallOptions): Promise<Contact[]>
  /** Renames a contact; throws {@link ContactNotFoundError} or {@link DuplicateContactError}. */
  renameContact(nameOrPeerId: string, newName: string, options?: CallOptions): Promise<Contact>
  /** Removes a contact and returns it as it was; throws {@link ContactNotFoundError}. */
  removeContact(nameOrPeerId: string, options?: CallOptions): Promise<Contact>
  /** Remembers addresses of a contact (new ones are added, known ones get a new last-seen). */
  rememberAddresses(
    nameOrPeerId: string,
    multiaddrs: string | readonly string[],
    options?: CallOptions
  ): Promise<Contact>
  /** Forgets, in every contact, the addresses not seen for a while; returns what was forgotten. */
  forgetStaleAddresses(options: ForgetStaleAddressesOptions): Promise<ForgottenAddress[]>
  /**
   * The contact's addresses, best first and ending in `/p2p/<peerId>`, that may be given to a peer
   * at `forPeerOn` under the store's `shareScope` policy.
   */
  addressesToShare(nameOrPeerId: string, options: AddressesToShareOptions): Promise<string[]>
  /**
   * Makes sure this node is connected to the peer: at once when it is; else the remembered
   * addresses, best first, 4 at a time, the first to connect wins; else `routing findpeer`. Records
   * the address of the connection. Throws {@link ContactUnreachableError} listing what was tried.
   */
  ensureConnected(nameOrPeerId: string, options?: EnsureConnectedOptions): Promise<ConnectResult>
  /** Waits for running calls, then closes the Kubo client if the store made it (a node given as `ipfs` stays open). */
  close(): Promise<void>
}

/** Serializes this process's calls per file, so they queue instead of polling each other's file lock. */
const queues = new Map<string, Promise<void>>()

function toDate(value: string): Date {
  return new Date(value)
}

function toKnownAddress(address: StoredAddress): KnownAddress {
  return {
    multiaddr: address.multiaddr,
    firstSeen: toDate(address.firstSeen),
    lastSeen: toDate(address.lastSeen),
    lastSuccess: address.lastSuccess == null ? undefined : toDate(address.lastSuccess),
    successes: address.successes
  }
}

function toContact(contact: StoredContact): Contact {
  return {
    name: contact.name,
    peerId: contact.peerId,
    addedAt: toDate(contact.addedAt),
    addresses: rankAddresses(contact.addresses).map(toKnownAddress)
  }
}

function findContact(data: StoreData, key: ContactKey): StoredContact | undefined {
  return data.contacts.find(contact =>
    key.kind === 'name' ? contact.name === key.name : contact.peerId === key.peerId
  )
}

function describeKey(key: ContactKey): string {
  return key.kind === 'name' ? key.name : key.peerId
}

function checkPositiveInteger(value: number | undefined, argument: string): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(argument, `expected a whole number >= 1, got ${String(value)}`)
  }
  return value
}

/** Resolves true when `previous` does, false after `timeout` ms; rejects with the signal's reason. */
async function waitForTurn(
  previous: Promise<void>,
  signal: AbortSignal | undefined,
  timeout: number
): Promise<boolean> {
  const deadline = AbortSignal.timeout(timeout)
  try {
    await raceSignal(previous, signal == null ? deadline : AbortSignal.any([signal, deadline]))
    return true
  } catch (error) {
    // The caller's abort wins over a deadline that passed at the same time.
    if (signal?.aborted === true) throw signal.reason
    if (deadline.aborted) return false
    throw error
  }
}

class FileContactStore implements ContactStore {
  readonly path: string
  readonly #lockPath: string
  readonly #onCorrupt: CorruptStoreHandler | undefined
  readonly #lockTimeout: number
  readonly #shareScope: Record<PeerLocation, readonly AddressScope[]>
  readonly #dialConcurrency: number
  readonly #dialTimeout: number
  readonly #connectTimeout: number
  #node: ContactsNode | undefined
  /** The Kubo client this store made for want of a node, closed by `close()`. */
  #ownClient: KuboClient | undefined
  readonly #running = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined

  constructor(init: ContactsInit) {
    if (init.path !== undefined && (typeof init.path !== 'string' || init.path === '')) {
      throw new InvalidArgumentError('path', 'expected the path of the contacts file')
    }
    this.path = path.resolve(init.path ?? defaultContactsPath())
    this.#lockPath = `${this.path}.lock`
    this.#onCorrupt = init.onCorrupt
    this.#lockTimeout = checkMilliseconds(init.lockTimeout, 'lockTimeout') ?? DEFAULT_LOCK_TIMEOUT
    this.#shareScope = resolveShareScope(init.shareScope)
    this.#dialConcurrency =
      checkPositiveInteger(init.dialConcurrency, 'dialConcurrency') ?? DEFAULT_DIAL_CONCURRENCY
    this.#dialTimeout = checkMilliseconds(init.dialTimeout, 'dialTimeout', 1) ?? DEFAULT_DIAL_TIMEOUT
    this.#connectTimeout =
      checkMilliseconds(init.connectTimeout, 'connectTimeout', 1) ?? DEFAULT_CONNECT_TIMEOUT
    if (init.ipfs != null && init.client != null) {
      throw new InvalidArgumentError(
        'client',
        'pass the node as ipfs, or (deprecated) a Kubo client as client, not both'
      )
    }
    if (init.ipfs != null && typeof init.ipfs.peers?.connections !== 'function') {
      throw new InvalidArgumentError(
        'ipfs',
        'expected an Ipfs of @tk/interface (createIpfs() from @tk/api, createEmbeddedIpfs() from @tk/embedded) with peers.connect, peers.connections and peers.find'
      )
    }
    this.#node = init.ipfs ?? (init.client == null ? undefined : contactsNodeFromKuboClient(init.client))
  }

  /** Runs a public call: refused after close(), waited for by close(). */
  #run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing != null) return Promise.reject(new StoreClosedError(this.path))
    const promise = work()
    this.#running.add(promise)
    const forget = (): void => {
      this.#running.delete(promise)
    }
    promise.then(forget, forget)
    return promise
  }

  /** Runs `work` holding this process's queue for the file and the file lock. */
  async #exclusive<T>(options: CallOptions, work: () => Promise<T>): Promise<T> {
    const timeout = checkMilliseconds(options.timeout, 'timeout') ?? this.#lockTimeout
    options.signal?.throwIfAborted()
    const started = Date.now()
    const previous = queues.get(this.path) ?? Promise.resolve()
    let done: () => void = () => {}
    const mine = new Promise<void>(resolve => {
      done = resolve
    })
    const tail = previous.then(() => mine)
    queues.set(this.path, tail)
    try {
      if (!(await waitForTurn(previous, options.signal, timeout))) {
        throw new StoreLockTimeoutError(
          this.#lockPath,
          Date.now() - started,
          await readLockHolder(this.#lockPath)
        )
      }
      const lock = await acquireFileLock(this.#lockPath, {
        signal: options.signal,
        lockTimeout: Math.max(0, timeout - (Date.now() - started)),
        onStaleTakeover: async (holder: LockHolder | undefined) => {
          // A writer that died mid-write leaves its temp file; nobody else will ever remove it.
          if (holder != null && holder.hostname === os.hostname())
            await removeTempFiles(this.path, holder.pid)
        }
      })
      try {
        return await work()
      } finally {
        await lock.release()
      }
    } finally {
      done()
      if (queues.get(this.path) === tail) queues.delete(this.path)
    }
  }

  #report(error: CorruptStoreError): void {
    if (this.#onCorrupt != null) this.#onCorrupt(error)
    else process.emitWarning(error)
  }

  /** Reads the file holding the lock; a corrupt file is moved aside and reported, and the store starts empty. */
  async #readLocked(): Promise<StoreData> {
    const read = await readStoreFile(this.path)
    if (read.kind === 'ok') return read.data
    if (read.kind === 'missing') return emptyStore()
    const movedTo = await moveAside(this.path)
    this.#report(new CorruptStoreError(this.path, movedTo, read.reason, { cause: read.cause }))
    return emptyStore()
  }

  /**
   * Reads without the lock (writes replace the file atomically, so a read sees a whole version);
   * only a corrupt file needs the lock, to move it aside exactly once.
   */
  async #read(options: CallOptions): Promise<StoreData> {
    const read = await readStoreFile(this.path)
    if (read.kind === 'ok') return read.data
    if (read.kind === 'missing') return emptyStore()
    return await this.#exclusive(options, async () => await this.#readLocked())
  }

  /** Lock, re-read, change, write, unlock: no other process's change in between is lost. */
  async #mutate<T>(
    options: CallOptions,
    change: (data: StoreData, now: string) => { result: T; changed: boolean }
  ): Promise<T> {
    return await this.#exclusive(options, async () => {
      const data = await this.#readLocked()
      const { result, changed } = change(data, new Date().toISOString())
      if (changed) await writeStoreFile(this.path, { ...data, version: STORE_FORMAT_VERSION })
      return result
    })
  }

  async open(options: CallOptions): Promise<void> {
    // Reading once now reports a corrupt file (and refuses a newer format) at open, not at first use.
    await this.#read(options)
  }

  addContact(peerId: string, name: string, options: AddContactOptions = {}): Promise<Contact> {
    return this.#run(async () => {
      const id = normalizePeerId(peerId, 'peerId')
      const contactName = checkContactName(name, 'name')
      const addresses =
        options.addresses == null ? [] : normalizeAddresses(options.addresses, id, 'addresses')
      return await this.#mutate(options, (data, now) => {
        const sameName = findContact(data, { kind: 'name', name: contactName })
        if (sameName != null) throw new DuplicateContactError('name', contactName, sameName.name)
        const samePeer = findContact(data, { kind: 'peerId', peerId: id })
        if (samePeer != null) throw new DuplicateContactError('peerId', id, samePeer.name)
        const contact: StoredContact = {
          name: contactName,
          peerId: id,
          addedAt: now,
          addresses: rankAddresses(
            addresses.map(multiaddr => ({ multiaddr, firstSeen: now, lastSeen: now, successes: 0 }))
          )
        }
        data.contacts.push(contact)
        return { result: toContact(contact), changed: true }
      })
    })
  }

  getContact(nameOrPeerId: string, options: CallOptions = {}): Promise<Contact | undefined> {
    return this.#run(async () => {
      const key = toContactKey(nameOrPeerId)
      const contact = findContact(await this.#read(options), key)
      return contact == null ? undefined : toContact(contact)
    })
  }

  listContacts(options: CallOptions = {}): Promise<Contact[]> {
    return this.#run(async () =>
      (await this.#read(options)).contacts.map(toContact).sort((a, b) => a.name.localeCompare(b.name))
    )
  }

  renameContact(nameOrPeerId: string, newName: string, options: CallOptions = {}): Promise<Contact> {
    return this.#run(async () => {
      const key = toContactKey(nameOrPeerId)
      const name = checkContactName(newName, 'newName')
      return await this.#mutate(options, data => {
        const contact = findContact(data, key)
        if (contact == null) throw new ContactNotFoundError(describeKey(key))
        if (contact.name === name) return { result: toContact(contact), changed: false }
        const taken = findContact(data, { kind: 'name', name })
        if (taken != null) throw new DuplicateContactError('name', name, taken.name)
        contact.name = name
        return { result: toContact(contact), changed: true }
      })
    })
  }

  removeContact(nameOrPeerId: string, options: CallOptions = {}): Promise<Contact> {
    return this.#run(async () => {
      const key = toContactKey(nameOrPeerId)
      return await this.#mutate(options, data => {
        const contact = findContact(data, key)
        if (contact == null) throw new ContactNotFoundError(describeKey(key))
        data.contacts = data.contacts.filter(other => other !== contact)
        return { result: toContact(contact), changed: true }
      })
    })
  }

  rememberAddresses(
    nameOrPeerId: string,
    multiaddrs: string | readonly string[],
    options: CallOptions = {}
  ): Promise<Contact> {
    return this.#run(async () => {
      const key = toContactKey(nameOrPeerId)
      // With a peer id the addresses can be checked before taking the lock; with a name, once the contact is found.
      if (key.kind === 'peerId') normalizeAddresses(multiaddrs, key.peerId, 'multiaddrs')
      return await this.#mutate(options, (data, now) => {
        const contact = findContact(data, key)
        if (contact == null) throw new ContactNotFoundError(describeKey(key))
        const addresses = normalizeAddresses(multiaddrs, contact.peerId, 'multiaddrs')
        for (const multiaddr of addresses) {
          const known = contact.addresses.find(address => address.multiaddr === multiaddr)
          if (known != null) known.lastSeen = now
          else contact.addresses.push({ multiaddr, firstSeen: now, lastSeen: now, successes: 0 })
        }
        contact.addresses = rankAddresses(contact.addresses)
        return { result: toContact(contact), changed: addresses.length > 0 }
      })
    })
  }

  /** Counts a connection through `multiaddr` for the contact with this peer id; nothing if it is not a contact. */
  async #recordSuccess(peerId: string, multiaddr: string, options: CallOptions): Promise<void> {
    await this.#mutate(options, (data, now) => {
      const contact = findContact(data, { kind: 'peerId', peerId })
      if (contact == null) return { result: undefined, changed: false }
      let known = contact.addresses.find(address => address.multiaddr === multiaddr)
      if (known == null) {
        known = { multiaddr, firstSeen: now, lastSeen: now, successes: 0 }
        contact.addresses.push(known)
      }
      known.successes += 1
      known.lastSeen = now
      known.lastSuccess = now
      contact.addresses = rankAddresses(contact.addresses)
      return { result: undefined, changed: true }
    })
  }

  forgetStaleAddresses(options: ForgetStaleAddressesOptions): Promise<ForgottenAddress[]> {
    return this.#run(async () => {
      const olderThan = options?.olderThan
      let cutoff: number
      if (olderThan instanceof Date && !Number.isNaN(olderThan.getTime())) cutoff = olderThan.getTime()
      else if (typeof olderThan === 'number' && Number.isFinite(olderThan) && olderThan >= 0) {
        cutoff = Date.now() - olderThan
      } else {
        throw new InvalidArgumentError(
          'olderThan',
          `expected a number of ms >= 0 or a Date, got ${String(olderThan)}`
        )
      }
      return await this.#mutate(options, data => {
        const forgotten: ForgottenAddress[] = []
        for (const contact of data.contacts) {
          contact.addresses = contact.addresses.filter(address => {
            if (Date.parse(address.lastSeen) >= cutoff) return true
            forgotten.push({
              name: contact.name,
              peerId: contact.peerId,
              multiaddr: address.multiaddr,
              lastSeen: toDate(address.lastSeen)
            })
            return false
          })
        }
        return { result: forgotten, changed: forgotten.length > 0 }
      })
    })
  }

  addressesToShare(nameOrPeerId: string, options: AddressesToShareOptions): Promise<string[]> {
    return this.#run(async () => {
      const key = toContactKey(nameOrPeerId)
      const forPeerOn = checkPeerLocation(options?.forPeerOn)
      const contact = findContact(await this.#read(options), key)
      if (contact == null) throw new ContactNotFoundError(describeKey(key))
      const ranked = rankAddresses(contact.addresses).map(address => address.multiaddr)
      return selectAddressesToShare(ranked, forPeerOn, this.#shareScope).map(
        address => `${address}/p2p/${contact.peerId}`
      )
    })
  }

  ensureConnected(nameOrPeerId: string, options: EnsureConnectedOptions = {}): Promise<ConnectResult> {
    return this.#run(async () => {
      const key = toContactKey(nameOrPeerId)
      const timeout = checkMilliseconds(options.timeout, 'timeout', 1) ?? this.#connectTimeout
      options.signal?.throwIfAborted()
      const contact = findContact(await this.#read({ signal: options.signal }), key)
      // A peer id that is not a contact can still be reached through routing, with nothing to record.
      let peerId: string
      if (contact != null) peerId = contact.peerId
      else if (key.kind === 'peerId') peerId = key.peerId
      else throw new ContactNotFoundError(key.name)
      if (this.#node == null) {
        this.#ownClient = createKuboClient()
        this.#node = contactsNodeFromKuboClient(this.#ownClient)
      }
      return await connectToPeer({
        node: this.#node,
        peerId,
        contactName: contact?.name,
        addresses: rankAddresses(contact?.addresses ?? []).map(address => address.multiaddr),
        dialConcurrency: this.#dialConcurrency,
        dialTimeout: this.#dialTimeout,
        timeout,
        signal: options.signal,
        recordSuccess: async address => {
          if (contact != null) await this.#recordSuccess(peerId, address, { signal: options.signal })
        }
      })
    })
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#running])
      await this.#ownClient?.close()
    })()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Opens the contacts store at `init.path` (default `TK_CONTACTS`, else `<user data dir>/tk/contacts.json`).
 * Reads it once, so a corrupt file is reported now; the file itself is created by the first change.
 */
export async function openContacts(init: ContactsInit = {}): Promise<ContactStore> {
  const store = new FileContactStore(init)
  await store.open(init)
  return store
}
