import type { LockHolder } from './file-lock.js'

/** No contact has this name or peer id. */
export class ContactNotFoundError extends Error {
  static override readonly name = 'ContactNotFoundError'
  override readonly name = 'ContactNotFoundError'
  /** The name or peer id that was looked up. */
  readonly query: string

  constructor(query: string, options?: ErrorOptions) {
    super(`No contact is named or has the peer id "${query}"; add it with addContact(peerId, name)`, options)
    this.query = query
  }
}

/** A contact with this name, or with this peer id, exists already. */
export class DuplicateContactError extends Error {
  static override readonly name = 'DuplicateContactError'
  override readonly name = 'DuplicateContactError'
  /** What collided: the name, or the peer id. */
  readonly field: 'name' | 'peerId'
  /** The value that collided. */
  readonly value: string
  /** The name of the contact that has it already. */
  readonly existingName: string

  constructor(field: 'name' | 'peerId', value: string, existingName: string, options?: ErrorOptions) {
    super(
      field === 'name'
        ? `A contact named "${value}" exists already; pick another name, or rename or remove that contact first`
        : `The peer ${value} is a contact already, named "${existingName}"; use renameContact to change its name`,
      options
    )
    this.field = field
    this.value = value
    this.existingName = existingName
  }
}

/** Another process (or a stale lock nobody could prove dead) held the store's lock for longer than allowed. */
export class StoreLockTimeoutError extends Error {
  static override readonly name = 'StoreLockTimeoutError'
  override readonly name = 'StoreLockTimeoutError'
  readonly isRetryable = true
  /** The lock file. */
  readonly lockPath: string
  /** How long we waited (ms). */
  readonly waited: number
  /** Who holds the lock, as written in the lock file; absent when it names nobody (yet). */
  readonly holder: LockHolder | undefined

  constructor(lockPath: string, waited: number, holder: LockHolder | undefined, options?: ErrorOptions) {
    const who =
      holder == null
        ? 'the lock file names no holder (yet)'
        : `it is held by pid ${holder.pid} on ${holder.hostname} since ${holder.createdAt}`
    super(
      `Could not lock the contacts store within ${waited} ms: ${who}. Try again; if that process is gone or hung, delete ${lockPath}`,
      options
    )
    this.lockPath = lockPath
    this.waited = waited
    this.holder = holder
  }
}

/**
 * The contacts file could not be read or parsed. It has been moved aside (its bytes unchanged) and
 * the store carries on empty; this error is the report, given to `onCorrupt` (or emitted as a process
 * warning), not thrown.
 */
export class CorruptStoreError extends Error {
  static override readonly name = 'CorruptStoreError'
  override readonly name = 'CorruptStoreError'
  /** The contacts file. */
  readonly path: string
  /** Where its bytes are now. */
  readonly movedTo: string
  /** What was wrong with it. */
  readonly reason: string

  constructor(path: string, movedTo: string, reason: string, options?: ErrorOptions) {
    super(
      `The contacts store ${path} could not be used (${reason}); it was moved to ${movedTo} and a new, empty store started. Copy contacts back from that file if you need them`,
      options
    )
    this.path = path
    this.movedTo = movedTo
    this.reason = reason
  }
}

/** The contacts file was written by a newer @tk/lns, in a format this version does not know. */
export class UnsupportedStoreVersionError extends Error {
  static override readonly name = 'UnsupportedStoreVersionError'
  override readonly name = 'UnsupportedStoreVersionError'
  readonly path: string
  /** The format version found in the file. */
  readonly version: number

  constructor(path: string, version: number, supported: number, options?: ErrorOptions) {
    super(
      `The contacts store ${path} has format version ${version}, but this @tk/lns reads version ${supported}; upgrade @tk/lns (the file was left untouched)`,
      options
    )
    this.path = path
    this.version = version
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends Error {
  static override readonly name = 'StoreClosedError'
  override readonly name = 'StoreClosedError'

  constructor(path: string, options?: ErrorOptions) {
    super(`The contacts store ${path} is closed; open it again with openContacts()`, options)
  }
}

/** One dial of one address made by `ensureConnected`. */
export interface DialAttempt {
  /** The address dialled, without `/p2p/<peerId>`. */
  address: string
  /** `cancelled` when another address connected first. */
  outcome: 'connected' | 'failed' | 'cancelled'
  /** Why it failed (Kubo's words where Kubo gave them). */
  error?: string
  /** How long the dial took (ms). */
  ms: number
}

/** What the routing fallback of `ensureConnected` (the node's `peers.find`) found. */
export interface RoutingOutcome {
  /** False when no lookup was made (the remembered addresses worked, or time ran out before). */
  tried: boolean
  /** Whether the routing system knew the peer. */
  found: boolean
  /** The addresses it returned, without `/p2p/<peerId>`. */
  addresses: string[]
  /** Why the lookup, or the dial of what it found, failed. */
  error?: string
}

/** `ensureConnected` could not connect: every remembered address and the routing lookup failed. */
export class ContactUnreachableError extends Error {
  static override readonly name = 'ContactUnreachableError'
  override readonly name = 'ContactUnreachableError'
  /** Whether a later try may succeed (the peer may come online, a network may come back). */
  readonly isRetryable = true
  readonly peerId: string
  /** The contact's name; absent when the peer is not a contact. */
  readonly contactName: string | undefined
  /** Each remembered address tried, and why it failed. */
  readonly attempts: readonly DialAttempt[]
  /** What routing (`peers.find`) said. */
  readonly routing: RoutingOutcome
  /** Whether the call's `timeout` ran out before everything was tried. */
  readonly timedOut: boolean

  constructor(
    init: {
      peerId: string
      contactName: string | undefined
      attempts: readonly DialAttempt[]
      routing: RoutingOutcome
      timedOut: boolean
      timeout: number
    },
    options?: ErrorOptions
  ) {
    const who = init.contactName == null ? init.peerId : `${init.contactName} (${init.peerId})`
    const lines = init.attempts.map(
      attempt =>
        `  ${attempt.address}: ${attempt.outcome}${attempt.error == null ? '' : ` (${attempt.error})`}`
    )
    if (init.attempts.length === 0) lines.push('  no remembered addresses')
    lines.push(
      init.routing.tried
        ? `  routing findpeer: ${init.routing.found ? `found ${init.routing.addresses.join(', ') || 'no addresses'}` : 'not found'}${init.routing.error == null ? '' : ` (${init.routing.error})`}`
        : '  routing findpeer: not tried'
    )
    super(
      `Could not connect to ${who}${init.timedOut ? ` within ${init.timeout} ms` : ''}:\n${lines.join('\n')}\nCheck that the peer is online; remember an address that works with rememberAddresses(), or give this node a routing system (Kubo's Routing.Type, an embedded node's dht option)`,
      options
    )
    this.peerId = init.peerId
    this.contactName = init.contactName
    this.attempts = init.attempts
    this.routing = init.routing
    this.timedOut = init.timedOut
  }
}
