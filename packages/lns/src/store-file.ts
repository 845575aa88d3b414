import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { MAX_ADDRESSES_PER_CONTACT, STORE_FORMAT_VERSION } from './constants.js'
import { UnsupportedStoreVersionError } from './errors.js'
import { checkContactName, normalizeAddress, normalizePeerId } from './validate.js'

/** One known address of a contact, as stored (times in ISO 8601). */
export interface StoredAddress {
  /** The multiaddr without `/p2p/<peerId>`. */
  multiaddr: string
  firstSeen: string
  lastSeen: string
  /** The last time a connection used this address; absent while it never has. */
  lastSuccess?: string
  /** How many connections used this address. */
  successes: number
  /** Fields a newer version may add are kept as they are. */
  [field: string]: unknown
}

/** One contact, as stored. */
export interface StoredContact {
  name: string
  peerId: string
  addedAt: string
  addresses: StoredAddress[]
  [field: string]: unknown
}

/** The whole file: `{ "version": 1, "contacts": [...] }`. */
export interface StoreData {
  version: number
  contacts: StoredContact[]
  [field: string]: unknown
}

export type ReadResult =
  | { kind: 'ok'; data: StoreData }
  | { kind: 'missing' }
  | { kind: 'corrupt'; reason: string; cause?: unknown }

export function emptyStore(): StoreData {
  return { version: STORE_FORMAT_VERSION, contacts: [] }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Thrown inside parsing; becomes a `corrupt` read. */
class FormatError extends Error {}

function timestamp(value: unknown, where: string): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new FormatError(`${where} is not a date`)
  }
  return value
}

function parseAddress(value: unknown, peerId: string, where: string): StoredAddress {
  if (!isRecord(value)) throw new FormatError(`${where} is not an object`)
  if (typeof value.multiaddr !== 'string') throw new FormatError(`${where}.multiaddr is missing`)
  let multiaddr: string
  try {
    multiaddr = normalizeAddress(value.multiaddr, peerId)
  } catch (error) {
    throw new FormatError(`${where}.multiaddr: ${(error as Error).message}`, { cause: error })
  }
  const successes = value.successes
  if (typeof successes !== 'number' || !Number.isInteger(successes) || successes < 0) {
    throw new FormatError(`${where}.successes is not a count`)
  }
  return {
    ...value,
    multiaddr,
    firstSeen: timestamp(value.firstSeen, `${where}.firstSeen`),
    lastSeen: timestamp(value.lastSeen, `${where}.lastSeen`),
    ...(value.lastSuccess == null
      ? {}
      : { lastSuccess: timestamp(value.lastSuccess, `${where}.lastSuccess`) }),
    successes
  }
}

function parseContact(value: unknown, where: string): StoredContact {
  if (!isRecord(value)) throw new FormatError(`${where} is not an object`)
  let name: string
  let peerId: string
  try {
    name = checkContactName(value.name as string, `${where}.name`)
    peerId = normalizePeerId(value.peerId as string, `${where}.peerId`)
  } catch (error) {
    throw new FormatError((error as Error).message, { cause: error })
  }
  if (!Array.isArray(value.addresses)) throw new FormatError(`${where}.addresses is not an array`)
  const addresses = value.addresses.map((address, index) =>
    parseAddress(address, peerId, `${where}.addresses[${index}]`)
  )
  return { ...value, name, peerId, addedAt: timestamp(value.addedAt, `${where}.addedAt`), addresses }
}

/**
 * Parses the file's text. Throws {@link UnsupportedStoreVersionError} for a newer format (that file
 * is not ours to touch) and `FormatError` for anything else wrong.
 */
export function parseStore(text: string, file: string): StoreData {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new FormatError(`not JSON: ${(error as Error).message}`, { cause: error })
  }
  if (!isRecord(value)) throw new FormatError('the top level is not an object')
  const version = value.version
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new FormatError('"version" is missing or not a positive whole number')
  }
  if (version > STORE_FORMAT_VERSION)
    throw new UnsupportedStoreVersionError(file, version, STORE_FORMAT_VERSION)
  if (!Array.isArray(value.contacts)) throw new FormatError('"contacts" is not an array')
  const contacts = value.contacts.map((contact, index) => parseContact(contact, `contacts[${index}]`))
  const names = new Set<string>()
  const peerIds = new Set<string>()
  for (const contact of contacts) {
    if (names.has(contact.name)) throw new FormatError(`two contacts are named "${contact.name}"`)
    if (peerIds.has(contact.peerId)) throw new FormatError(`two contacts have the peer id ${contact.peerId}`)
    names.add(contact.name)
    peerIds.add(contact.peerId)
  }
  return { ...value, version, contacts }
}

/**
 * Reads the store file. A missing file is an empty store; unreadable or malformed content is
 * `corrupt` (the caller moves it aside); other I/O failures (EMFILE, EIO) are thrown, since the
 * file itself may be fine.
 */
export async function readStoreFile(file: string): Promise<ReadResult> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOENT') return { kind: 'missing' }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR') {
      return { kind: 'corrupt', reason: `unreadable (${code})`, cause: error }
    }
    throw error
  }
  try {
    return { kind: 'ok', data: parseStore(text, file) }
  } catch (error) {
    if (error instanceof FormatError) return { kind: 'corrupt', reason: error.message, cause: error }
    throw error
  }
}

/** The prefix of temp files a writer with this pid leaves while it writes. */
export function tempFilePrefix(file: string, pid: number): string {
  return `${path.basename(file)}.tmp-${pid}-`
}

async function syncDirectory(directory: string): Promise<void> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(directory, 'r')
    await handle.sync()
  } catch (error) {
    // Windows cannot open or fsync a directory; its rename is durable without it.
    if (!['EISDIR', 'EPERM', 'EACCES', 'EINVAL'].includes(errorCode(error) ?? '')) throw error
  } finally {
    await handle?.close()
  }
}

async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rename(from, to)
      return
    } catch (error) {
      // Windows refuses to replace a file another process has open for a moment (virus scanners, readers).
      const busy = ['EPERM', 'EBUSY', 'EACCES'].includes(errorCode(error) ?? '')
      if (process.platform !== 'win32' || !busy || attempt >= 10) throw error
      await sleep(20)
    }
  }
}

/** Writes the store atomically: a temp file in the same folder, fsync, rename over the file, fsync the folder. */
export async function writeStoreFile(file: string, data: StoreData): Promise<void> {
  const directory = path.dirname(file)
  await fs.mkdir(directory, { recursive: true, mode: 0o700 })
  const temp = path.join(directory, `${tempFilePrefix(file, process.pid)}${randomBytes(6).toString('hex')}`)
  try {
    const handle = await fs.open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify(data, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await renameWithRetry(temp, file)
  } catch (error) {
    await fs.rm(temp, { force: true })
    throw error
  }
  await syncDirectory(directory)
}

/** Removes temp files a dead writer left behind. */
export async function removeTempFiles(file: string, pid: number): Promise<void> {
  const prefix = tempFilePrefix(file, pid)
  const directory = path.dirname(file)
  const names = await fs.readdir(directory).catch(() => [] as string[])
  await Promise.all(
    names
      .filter(name => name.startsWith(prefix))
      .map(name => fs.rm(path.join(directory, name), { force: true }))
  )
}

/** Moves a bad store file aside, keeping its bytes: `contacts.json.corrupt-<timestamp>`. Returns the new path. */
export async function moveAside(file: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  for (let attempt = 0; ; attempt++) {
    const target = `${file}.corrupt-${stamp}${attempt === 0 ? '' : `-${attempt}`}`
    try {
      // Never overwrite an earlier corrupt copy: link fails if the target exists; then drop the original name.
      await fs.link(file, target)
      await fs.rm(file, { force: true })
      return target
    } catch (error) {
      const code = errorCode(error)
      if (code === 'EEXIST' && attempt < 100) continue
      // Some file systems (FAT, some network shares) have no hard links: rename instead.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV' || code === 'ENOSYS') {
        await fs.rename(file, target)
        return target
      }
      throw error
    }
  }
}

function time(value: string | undefined): number {
  // Hand-edited files may write dates in other ISO forms; compare instants, not strings.
  return value == null ? Number.NEGATIVE_INFINITY : Date.parse(value)
}

function rank(a: StoredAddress, b: StoredAddress): number {
  return (
    time(b.lastSuccess) - time(a.lastSuccess) ||
    b.successes - a.successes ||
    time(b.lastSeen) - time(a.lastSeen) ||
    a.multiaddr.localeCompare(b.multiaddr)
  )
}

/**
 * Sorts addresses best first: most recently successful, then most successes, then most recently
 * seen; then drops the worst beyond {@link MAX_ADDRESSES_PER_CONTACT}.
 */
export function rankAddresses(addresses: StoredAddress[]): StoredAddress[] {
  return [...addresses].sort(rank).slice(0, MAX_ADDRESSES_PER_CONTACT)
}
