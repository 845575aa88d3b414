import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OWNERLESS_LOCK_GRACE } from '../src/constants.js'
import { acquireFileLock, type LockHolder } from '../src/file-lock.js'
import { deadPid, tempDir } from './helpers.js'

describe('the file lock', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let lockPath: string

  beforeEach(async () => {
    dir = await tempDir()
    lockPath = path.join(dir.path, 'contacts.json.lock')
  })

  afterEach(async () => {
    await dir[Symbol.asyncDispose]()
  })

  const holderIn = async (file: string): Promise<LockHolder> => JSON.parse(await fs.readFile(file, 'utf8'))

  it('writes its owner into the lock file and removes it on release', async () => {
    const lock = await acquireFileLock(lockPath, { timeout: 1000 })
    const holder = await holderIn(lockPath)
    expect(holder).toEqual({ ...lock.holder, pid: process.pid, hostname: os.hostname() })
    await lock.release()
    await expect(fs.access(lockPath)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('takes over a lock whose holder is dead, and tells who it was', async () => {
    const dead = {
      pid: await deadPid(),
      hostname: os.hostname(),
      token: 'dead-holder',
      createdAt: '2026-01-01T00:00:00.000Z'
    }
    await fs.writeFile(lockPath, JSON.stringify(dead))
    const takenOver: Array<LockHolder | undefined> = []
    const started = Date.now()
    const lock = await acquireFileLock(lockPath, {
      timeout: 5000,
      onStaleTakeover: async holder => {
        takenOver.push(holder)
      }
    })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(takenOver).toEqual([dead])
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    // No renamed-away copy of the stale lock is left behind.
    expect(await fs.readdir(dir.path)).toEqual(['contacts.json.lock'])
    await lock.release()
  })

  it('waits for a live holder and then times out, naming it', async () => {
    const live = {
      pid: process.pid,
      hostname: os.hostname(),
      token: 'someone-else',
      createdAt: new Date().toISOString()
    }
    await fs.writeFile(lockPath, JSON.stringify(live))
    const started = Date.now()
    const error = await acquireFileLock(lockPath, { timeout: 300 }).catch(
      (caught: unknown) => caught as Error
    )
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    expect(error).toMatchObject({ name: 'StoreLockTimeoutError', lockPath, holder: live, isRetryable: true })
    expect((error as Error).message).toContain(`held by pid ${process.pid}`)
    expect((error as Error).message).toContain(`delete ${lockPath}`)
    // The live lock was not touched.
    expect(await holderIn(lockPath)).toEqual(live)
  })

  it('gets the lock as soon as a live holder releases it', async () => {
    const first = await acquireFileLock(lockPath, { timeout: 1000 })
    const second = acquireFileLock(lockPath, { timeout: 5000 })
    await new Promise(resolve => setTimeout(resolve, 100))
    await first.release()
    const lock = await second
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    expect(lock.holder.token).not.toBe(first.holder.token)
    await lock.release()
  })

  it('takes over an ownerless lock file only once it is older than the grace period', async () => {
    await fs.writeFile(lockPath, '')
    await expect(acquireFileLock(lockPath, { timeout: 200 })).rejects.toMatchObject({
      name: 'StoreLockTimeoutError',
      holder: undefined
    })
    const old = new Date(Date.now() - OWNERLESS_LOCK_GRACE - 1000)
    await fs.utimes(lockPath, old, old)
    const lock = await acquireFileLock(lockPath, { timeout: 1000 })
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    await lock.release()
  })

  it('stops waiting when aborted, with the signal’s reason', async () => {
    const first = await acquireFileLock(lockPath, { timeout: 1000 })
    const reason = new Error('caller gave up')
    const controller = new AbortController()
    setTimeout(() => controller.abort(reason), 50)
    await expect(acquireFileLock(lockPath, { timeout: 5000, signal: controller.signal })).rejects.toBe(reason)
    await first.release()
  })

  it('does not remove a lock that is no longer its own', async () => {
    const lock = await acquireFileLock(lockPath, { timeout: 1000 })
    const other = {
      pid: process.pid,
      hostname: os.hostname(),
      token: 'new-owner',
      createdAt: new Date().toISOString()
    }
    await fs.writeFile(lockPath, JSON.stringify(other))
    await lock.release()
    expect(await holderIn(lockPath)).toEqual(other)
  })
})
