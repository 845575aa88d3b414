import type { Hash } from 'node:crypto'
import { constants } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'

/** Broken-off parts a file listener keeps for a resume, at most; the oldest goes first. */
export const DEFAULT_MAX_PARTS = 64
/** Bytes of broken-off parts a file listener keeps, at most (1 GiB); the oldest goes first. */
export const DEFAULT_MAX_PART_BYTES = 1024 * 1024 * 1024
/** How long a broken-off part waits for its sender to resume it (ms): a day. */
export const DEFAULT_PART_TTL = 24 * 60 * 60 * 1000

/** `.tk-<24 hex>.part` (ours, resumable) and `.tk-py-<18 hex>.part` (a Python transfer's, never resumed). */
const PART_NAME = /^\.tk-(?:[0-9a-f]{24}|py-[0-9a-f]{18})\.part$/
const RESUMABLE_PART_NAME = /^\.tk-[0-9a-f]{24}\.part$/

/** Creates a file that must not exist yet, and never through a symbolic link. */
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
/** Reopens an existing part for reading and writing, never through a symbolic link. */
export const REOPEN_FLAGS = constants.O_RDWR | constants.O_NOFOLLOW

export interface PartLimits {
  maxParts: number
  maxBytes: number
  /** ms */
  ttl: number
}

/** What the store holds about a broken-off part. */
export interface KeptPart {
  /** Bytes in the file. */
  bytes: number
  /** SHA-256 state over the first `hashed` bytes, if known (kept from the transfer that broke off). */
  hash: Hash | undefined
  hashed: number
  /** When it was kept (ms since the epoch): the oldest is evicted first, and expires after the TTL. */
  keptAt: number
  /** Whose transfer it is; undefined for a part an earlier run left. */
  peerId: string | undefined
}

/**
 * The `.part` files of one file listener: those in use by a transfer, and those kept for a resume
 * (bounded in count and bytes, expired after a TTL). A kept part remembers the SHA-256 state of
 * its bytes while the listener lives, so a resume does not read the part again; after a restart
 * the first resume reads it once, and what it hashed is kept even if the peer hangs up midway.
 */
export class PartStore {
  readonly #directory: string
  readonly #limits: PartLimits
  readonly #kept = new Map<string, KeptPart>()
  readonly #inUse = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  /** Bytes read back from parts to rebuild their SHA-256 (what a resume costs after a restart). */
  rehashedBytes = 0

  constructor(directory: string, limits: PartLimits) {
    this.#directory = directory
    this.#limits = limits
  }

  get count(): number {
    return this.#kept.size
  }

  get bytes(): number {
    let total = 0
    for (const part of this.#kept.values()) total += part.bytes
    return total
  }

  /**
   * Takes in the parts an earlier run left: expired ones (and anything of our names that is not a
   * plain file) are deleted, the others kept for a resume within the limits. Then expires parts
   * as they age.
   */
  async start(): Promise<void> {
    const now = Date.now()
    const names = await fs.readdir(this.#directory).catch(() => [] as string[])
    const found: Array<[string, KeptPart]> = []
    for (const name of names) {
      if (!PART_NAME.test(name)) continue
      const file = path.join(this.#directory, name)
      const stat = await fs.lstat(file).catch(() => undefined)
      if (stat == null) continue
      const fresh = now - stat.mtimeMs < this.#limits.ttl
      if (stat.isFile() && stat.nlink === 1 && fresh && RESUMABLE_PART_NAME.test(name)) {
        found.push([
          file,
          { bytes: stat.size, hash: undefined, hashed: 0, keptAt: stat.mtimeMs, peerId: undefined }
        ])
      } else if (!fresh || !stat.isFile() || stat.nlink !== 1) {
        // Expired, or planted: a link or a directory under a name only we create. `rm` removes
        // a symbolic link itself, never its target.
        await fs.rm(file, { force: true, recursive: stat.isDirectory() }).catch(() => {})
      }
    }
    for (const [file, part] of found.sort(([, x], [, y]) => x.keptAt - y.keptAt)) this.#kept.set(file, part)
    await this.#evict()
    const every = Math.min(Math.max(this.#limits.ttl / 4, 250), 10 * 60 * 1000)
    this.#timer = setInterval(() => void this.#expire(), every)
    this.#timer.unref()
  }

  /** Whether a transfer is writing `file` now. */
  inUse(file: string): boolean {
    return this.#inUse.has(file)
  }

  /**
   * A transfer takes `file`: returns what was kept of it (undefined: start afresh). Until
   * `release`, the part is neither expired nor evicted, and a second transfer of it is refused.
   */
  claim(file: string): KeptPart | undefined {
    this.#inUse.add(file)
    const kept = this.#kept.get(file)
    this.#kept.delete(file)
    return kept
  }

  /** The transfer of `file` ended; `keep` (a broken-off transfer) keeps the part for a resume. */
  async release(
    file: string,
    keep?: { bytes: number; hash: Hash | undefined; hashed: number; peerId: string }
  ): Promise<void> {
    this.#inUse.delete(file)
    if (keep == null) return
    this.#kept.set(file, { ...keep, keptAt: Date.now() })
    await this.#evict()
  }

  close(): void {
    clearInterval(this.#timer)
  }

  /**
   * Deletes kept parts until the count and bytes are within the limits: the oldest part of the
   * peer that holds the most (parts, or bytes when those are over), so one peer breaking off
   * transfer after transfer deletes its own parts, not other peers'.
   */
  async #evict(): Promise<void> {
    for (;;) {
      const overCount = this.#kept.size > this.#limits.maxParts
      if (!overCount && this.bytes <= this.#limits.maxBytes) return
      const held = new Map<string | undefined, number>()
      for (const part of this.#kept.values()) {
        held.set(part.peerId, (held.get(part.peerId) ?? 0) + (overCount ? 1 : part.bytes))
      }
      let heaviest: string | undefined
      let most = -1
      for (const [peerId, amount] of held) {
        if (amount > most) {
          heaviest = peerId
          most = amount
        }
      }
      // The map keeps insertion order, and a part is (re)inserted when kept: the first is the oldest.
      const oldest = [...this.#kept].find(([, part]) => part.peerId === heaviest)
      if (oldest == null) return
      this.#kept.delete(oldest[0])
      await fs.rm(oldest[0], { force: true }).catch(() => {})
    }
  }

  async #expire(): Promise<void> {
    const now = Date.now()
    for (const [file, part] of [...this.#kept]) {
      if (now - part.keptAt < this.#limits.ttl) continue
      this.#kept.delete(file)
      await fs.rm(file, { force: true }).catch(() => {})
    }
  }
}
