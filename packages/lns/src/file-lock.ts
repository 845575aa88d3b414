import { randomUUID } from 'node:crypto'
import type { Stats } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  FOREIGN_LOCK_STALE_AGE,
  LOCK_RETRY_MAX_DELAY,
  LOCK_RETRY_MIN_DELAY,
  OWNERLESS_LOCK_GRACE
} from './constants.js'
import { StoreLockTimeoutError } from './errors.js'
import { sleep } from './time.js'

/** Who holds a lock: what the holder writes into the lock file. */
export interface LockHolder {
  pid: number
  hostname: string
  /** Unique per acquisition, so a holder only ever removes its own lock. */
  token: string
  /** ISO 8601. */
  createdAt: string
}

export interface AcquireLockOptions {
  signal?: AbortSignal
  /** How long to wait for a busy lock (ms) before {@link StoreLockTimeoutError}. */
  timeout: number
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
      typeof value.createdAt === 'string'
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

/** Whether an observed lock can be taken over: its holder is dead, or it is old and cannot be checked. */
export function isStale(observed: ObservedLock, now = Date.now()): boolean {
  const age = now - observed.stats.mtimeMs
  const holder = observed.holder
  if (holder == null) return age > OWNERLESS_LOCK_GRACE
  if (holder.hostname !== os.hostname()) return age > FOREIGN_LOCK_STALE_AGE
  return !isProcessAlive(holder.pid)
}

async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  let handle: fs.FileHandle
  try {
    // O_CREAT | O_EXCL: exactly one process can create the file; that one holds the lock.
    handle = await fs.open(lockPath, 'wx', 0o600)
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false
    if (errorCode(error) === 'ENOENT') {
      await fs.mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 })
      return await tryCreate(lockPath, content)
    }
    throw error
  }
  try {
    await handle.writeFile(content)
  } catch (error) {
    await handle.close()
    await fs.rm(lockPath, { force: true })
    throw error
  }
  await handle.close()
  return true
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
 * Takes an exclusive lock on `lockPath` (a file created with O_EXCL holding the owner's pid, host
 * and a token), waiting with short growing pauses while another holds it, and taking it over when
 * its holder is dead (same host, pid gone), names no owner for 2 s, or is a foreign host's for 60 s.
 * Throws {@link StoreLockTimeoutError} after `timeout` ms, or the signal's reason when aborted.
 */
export async function acquireFileLock(lockPath: string, options: AcquireLockOptions): Promise<FileLock> {
  const started = Date.now()
  const deadline = started + options.timeout
  let delay = LOCK_RETRY_MIN_DELAY
  for (;;) {
    options.signal?.throwIfAborted()
    const holder: LockHolder = {
      pid: process.pid,
      hostname: os.hostname(),
      token: randomUUID(),
      createdAt: new Date().toISOString()
    }
    if (await tryCreate(lockPath, JSON.stringify(holder))) return new HeldLock(lockPath, holder)
    const observed = await observe(lockPath)
    if (observed == null) continue
    if (isStale(observed)) {
      if (await takeOver(lockPath, observed)) await options.onStaleTakeover?.(observed.holder)
      continue
    }
    const now = Date.now()
    if (now >= deadline) throw new StoreLockTimeoutError(lockPath, now - started, observed.holder)
    // Jitter, so waiters that started together do not keep colliding.
    const pause = Math.min(delay / 2 + Math.random() * delay, deadline - now)
    await sleep(pause, options.signal)
    delay = Math.min(delay * 2, LOCK_RETRY_MAX_DELAY)
  }
}

class HeldLock implements FileLock {
  readonly path: string
  readonly holder: LockHolder
  #released = false

  constructor(lockPath: string, holder: LockHolder) {
    this.path = lockPath
    this.holder = holder
  }

  async release(): Promise<void> {
    if (this.#released) return
    this.#released = true
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
