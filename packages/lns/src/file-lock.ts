import { randomUUID } from 'node:crypto'
import type { Stats } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  FOREIGN_LOCK_STALE_AGE,
  LIVE_LOCK_STALE_AGE,
  LOCK_HEARTBEAT_INTERVAL,
  LOCK_RETRY_MAX_DELAY,
  LOCK_RETRY_MIN_DELAY,
  OWNERLESS_LOCK_GRACE
} from './constants.js'
import { StoreLockTimeoutError } from './errors.js'

/** Who holds a lock: what the holder writes into the lock file. */
export interface LockHolder {
  pid: number
  hostname: string
  /** Unique per acquisition, so a holder only ever removes its own lock. */
  token: string
  /** ISO 8601. */
  createdAt: string
  /**
   * When the holder process started, as `<boot id>:<start time in clock ticks>` (Linux): a pid
   * alive with another start time is a different process that reused the pid. Absent where it
   * cannot be read (other systems, older writers); their locks go stale by age instead.
   */
  processStart?: string
}

export interface AcquireLockOptions {
  signal?: AbortSignal
  /** How long to wait for a busy lock (ms) before {@link StoreLockTimeoutError}. */
  lockTimeout: number
  /** Called after a dead holder's lock was taken over, e.g. to remove its half-written temp files. */
  onStaleTakeover?: (holder: LockHolder | undefined) => Promise<void>
}

/** A held lock; `release()` removes the lock file if it is still ours. */
export interface FileLock {
  readonly path: string
  readonly holder: LockHolder
  release(): Promise<void>
}

interface ObservedLock {
  raw: string
  holder: LockHolder | undefined
  stats: Stats
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder> | null
    if (
      value != null &&
      Number.isInteger(value.pid) &&
      typeof value.hostname === 'string' &&
      typeof value.token === 'string' &&
      typeof value.createdAt === 'string' &&
      (value.processStart === undefined || typeof value.processStart === 'string')
    ) {
      return value as LockHolder
    }
  } catch {
    // An empty or half-written lock file names no owner; the caller decides by its age.
  }
  return undefined
}

/** Whether a process with this pid exists on this machine. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to another user. Only ESRCH proves it is gone.
    return errorCode(error) !== 'ESRCH'
  }
}

/**
 * When process `pid` started, as `<boot id>:<start ticks>` from /proc (Linux), or undefined where
 * that cannot be read. The boot id makes it unique across reboots, when pids start over.
 */
export async function processStart(pid: number): Promise<string | undefined> {
  try {
    const [stat, bootId] = await Promise.all([
      fs.readFile(`/proc/${pid}/stat`, 'utf8'),
      fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8')
    ])
    // Fields after the command name, which is in parentheses and may hold spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // starttime is field 22 of the line; the rest starts at field 3.
    const ticks = fields[19]
    if (ticks == null || !/^\d+$/.test(ticks)) return undefined
    return `${bootId.trim()}:${ticks}`
  } catch {
    // Not Linux, or the process is gone: nothing to compare, the caller falls back to age.
    return undefined
  }
}

/**
 * Whether an observed lock can be taken over: its holder is dead, or another process has its pid
 * now (a different start time), or it is old and cannot be checked (no owner, another host, or a
 * live pid whose start time is unknown and whose holder stopped refreshing it).
 */
export async function isStale(observed: ObservedLock, now = Date.now()): Promise<boolean> {
  const age = now - observed.stats.mtimeMs
  const holder = observed.holder
  if (holder == null) return age > OWNERLESS_LOCK_GRACE
  if (holder.hostname !== os.hostname()) return age > FOREIGN_LOCK_STALE_AGE
  if (!isProcessAlive(holder.pid)) return true
  const current = holder.processStart == null ? undefined : await processStart(holder.pid)
  if (current != null) return current !== holder.processStart
  return age > LIVE_LOCK_STALE_AGE
}

/** The names of temp files a lock maker with this pid may leave if it dies while making one. */
function lockTempPrefix(lockPath: string, pid: number): string {
  return `${lockPath}.tmp-${pid}-`
}

/** Removes what a dead lock maker on this host left behind while making a lock (a moment's window). */
async function removeLockTemps(lockPath: string, pid: number): Promise<void> {
  const prefix = path.basename(lockTempPrefix(lockPath, pid))
  const directory = path.dirname(lockPath)
  const names = await fs.readdir(directory).catch(() => [] as string[])
  await Promise.all(
    names
      .filter(name => name.startsWith(prefix))
      .map(name => fs.rm(path.join(directory, name), { force: true }))
  )
}

/** Where link() is refused (some network and FAT file systems), the lock is made in place instead. */
const NO_LINK = new Set(['EPERM', 'ENOTSUP', 'ENOSYS', 'EOPNOTSUPP', 'EXDEV'])

/**
 * Creates the lock file with its content already in it: the content goes to a private temp file,
 * which is then hard-linked to `lockPath`. link() fails rather than overwrite, so exactly one
 * process gets the lock, and nobody ever sees it empty or half-written. Resolves with an open
 * handle on the lock's file (for the heartbeat), or undefined when it is held.
 */
async function tryCreate(lockPath: string, content: string): Promise<fs.FileHandle | undefined> {
  const temporary = `${lockTempPrefix(lockPath, process.pid)}${randomUUID()}`
  let handle: fs.FileHandle
  try {
    handle = await fs.open(temporary, 'wx', 0o600)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      await fs.mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 })
      return await tryCreate(lockPath, content)
    }
    throw error
  }
  let linked = false
  try {
    await handle.writeFile(content)
    await fs.link(temporary, lockPath)
    linked = true
  } catch (error) {
    if (errorCode(error) !== 'EEXIST' && !NO_LINK.has(errorCode(error) ?? '')) {
      await handle.close()
      throw error
    }
    if (errorCode(error) !== 'EEXIST') {
      await handle.close()
      await fs.rm(temporary, { force: true })
      return await createInPlace(lockPath, content)
    }
  } finally {
    await fs.rm(temporary, { force: true })
  }
  if (linked) return handle
  await handle.close()
  return undefined
}

/** The fallback without link(): O_EXCL then write, with a moment in which the file is empty. */
async function createInPlace(lockPath: string, content: string): Promise<fs.FileHandle | undefined> {
  let handle: fs.FileHandle
  try {
    // O_CREAT | O_EXCL: exactly one process can create the file; that one holds the lock.
    handle = await fs.open(lockPath, 'wx', 0o600)
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return undefined
    throw error
  }
  try {
    await handle.writeFile(content)
  } catch (error) {
    await handle.close()
    await fs.rm(lockPath, { force: true })
    throw error
  }
  return handle
}

async function observe(lockPath: string): Promise<ObservedLock | undefined> {
  try {
    const [raw, stats] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.stat(lockPath)])
    return { raw, holder: parseHolder(raw), stats }
  } catch (error) {
    // Released between our attempt to create it and this look: try again at once.
    if (errorCode(error) === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Removes a stale lock without ever removing a live one: the lock file is renamed away (atomic, so
 * only one of several waiters gets it), and if what was renamed is not the file judged stale (a
 * waiter took over first and locked), it is linked back. `link` fails rather than overwrite, so a
 * lock made in between is never clobbered.
 */
async function takeOver(lockPath: string, observed: ObservedLock): Promise<boolean> {
  const aside = `${lockPath}.stale-${randomUUID()}`
  try {
    await fs.rename(lockPath, aside)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false
    throw error
  }
  try {
    const [raw, stats] = await Promise.all([fs.readFile(aside, 'utf8'), fs.stat(aside)])
    if (
      raw === observed.raw &&
      stats.ino === observed.stats.ino &&
      stats.mtimeMs === observed.stats.mtimeMs
    ) {
      return true
    }
    await fs.link(aside, lockPath).catch((error: unknown) => {
      // EEXIST: a third process locked in the moment the live lock was away. Its holder and that
      // process now both believe they hold it; nothing can undo that here, and it needs three
      // processes racing over a dead one's lock within microseconds.
      if (errorCode(error) !== 'EEXIST') throw error
    })
    return false
  } finally {
    await fs.rm(aside, { force: true })
  }
}

/**
 * Takes an exclusive lock on `lockPath` (a file created whole, by link(), holding the owner's pid,
 * process start time, host and a token), waiting with short growing pauses while another holds it,
 * and taking it over when its holder is dead (same host, pid gone or now another process's),
 * names no owner for 2 s, is a foreign host's for 60 s, or names a live pid whose start time is
 * unknown and has not been refreshed for 60 s.
 * Throws {@link StoreLockTimeoutError} after `lockTimeout` ms, or the signal's reason when aborted.
 */
export async function acquireFileLock(lockPath: string, options: AcquireLockOptions): Promise<FileLock> {
  const started = Date.now()
  const deadline = started + options.lockTimeout
  let delay = LOCK_RETRY_MIN_DELAY
  let ownStart: string | undefined
  for (;;) {
    options.signal?.throwIfAborted()
    ownStart ??= (await processStart(process.pid)) ?? ''
    const holder: LockHolder = {
      pid: process.pid,
      hostname: os.hostname(),
      token: randomUUID(),
      createdAt: new Date().toISOString(),
      ...(ownStart === '' ? {} : { processStart: ownStart })
    }
    const handle = await tryCreate(lockPath, JSON.stringify(holder))
    if (handle != null) return new HeldLock(lockPath, holder, handle)
    const observed = await observe(lockPath)
    if (observed == null) continue
    if (await isStale(observed)) {
      if (await takeOver(lockPath, observed)) {
        if (observed.holder != null && observed.holder.hostname === os.hostname())
          await removeLockTemps(lockPath, observed.holder.pid)
        await options.onStaleTakeover?.(observed.holder)
      }
      continue
    }
    const now = Date.now()
    if (now >= deadline) throw new StoreLockTimeoutError(lockPath, now - started, observed.holder)
    // Jitter, so waiters that started together do not keep colliding.
    const pause = Math.min(delay / 2 + Math.random() * delay, deadline - now)
    await sleep(pause, undefined, { signal: options.signal }).catch((error: unknown) => {
      // Node rejects with its own AbortError; callers get their signal's reason, as from every other await here.
      options.signal?.throwIfAborted()
      throw error
    })
    delay = Math.min(delay * 2, LOCK_RETRY_MAX_DELAY)
  }
}

class HeldLock implements FileLock {
  readonly path: string
  readonly holder: LockHolder
  readonly #handle: fs.FileHandle
  readonly #heartbeat: NodeJS.Timeout
  #released = false

  constructor(lockPath: string, holder: LockHolder, handle: fs.FileHandle) {
    this.path = lockPath
    this.holder = holder
    this.#handle = handle
    // Through our own handle: if the lock was taken over, this touches our old file, not theirs.
    this.#heartbeat = setInterval(() => {
      const now = new Date()
      this.#handle.utimes(now, now).catch(() => {
        // A missed refresh only brings the age-based takeover nearer; the next one may work.
      })
    }, LOCK_HEARTBEAT_INTERVAL)
    this.#heartbeat.unref()
  }

  async release(): Promise<void> {
    if (this.#released) return
    this.#released = true
    clearInterval(this.#heartbeat)
    await this.#handle.close().catch(() => {
      // Closing only frees the descriptor; the lock file is what matters below.
    })
    let raw: string
    try {
      raw = await fs.readFile(this.path, 'utf8')
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return
      throw error
    }
    // Someone judged us dead and took the lock over: it is theirs now, not ours to remove.
    if (parseHolder(raw)?.token !== this.holder.token) return
    await fs.rm(this.path, { force: true })
  }
}

/** Who the lock file at `lockPath` names as its holder, if it exists and names one. */
export async function readLockHolder(lockPath: string): Promise<LockHolder | undefined> {
  try {
    return parseHolder(await fs.readFile(lockPath, 'utf8'))
  } catch (error) {
    // No lock file (or an unreadable one) names nobody; this is only for an error message.
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'EACCES') return undefined
    throw error
  }
}
