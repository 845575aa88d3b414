import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LIVE_LOCK_STALE_AGE, OWNERLESS_LOCK_GRACE } from '../src/constants.js'
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
    const lock = await acquireFileLock(lockPath, { lockTimeout: 1000 })
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
    // What it left while making a lock when it died; a live process's temp file stays.
    await fs.writeFile(`${lockPath}.tmp-${dead.pid}-abc`, '{"pid":')
    await fs.writeFile(`${lockPath}.tmp-${process.pid}-def`, '')
    const takenOver: Array<LockHolder | undefined> = []
    const started = Date.now()
    const lock = await acquireFileLock(lockPath, {
      lockTimeout: 5000,
      onStaleTakeover: async holder => {
        takenOver.push(holder)
      }
    })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(takenOver).toEqual([dead])
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    // No renamed-away copy of the stale lock is left behind, nor the dead holder's temp file.
    expect((await fs.readdir(dir.path)).sort()).toEqual([
      'contacts.json.lock',
      `contacts.json.lock.tmp-${process.pid}-def`
    ])
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
    const error = await acquireFileLock(lockPath, { lockTimeout: 300 }).catch(
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
    const first = await acquireFileLock(lockPath, { lockTimeout: 1000 })
    const second = acquireFileLock(lockPath, { lockTimeout: 5000 })
    // A sleep that is needed: the second call has found the lock held and waits (nothing shows that
    // from outside) before the holder releases it; the lock it then gets is asserted below.
    await new Promise(resolve => setTimeout(resolve, 100))
    await first.release()
    const lock = await second
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    expect(lock.holder.token).not.toBe(first.holder.token)
    await lock.release()
  })

  it('takes over an ownerless lock file only once it is older than the grace period', async () => {
    await fs.writeFile(lockPath, '')
    await expect(acquireFileLock(lockPath, { lockTimeout: 200 })).rejects.toMatchObject({
      name: 'StoreLockTimeoutError',
      holder: undefined
    })
    const old = new Date(Date.now() - OWNERLESS_LOCK_GRACE - 1000)
    await fs.utimes(lockPath, old, old)
    const lock = await acquireFileLock(lockPath, { lockTimeout: 1000 })
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    await lock.release()
  })

  it('stops waiting when aborted, with the signal’s reason', async () => {
    const first = await acquireFileLock(lockPath, { lockTimeout: 1000 })
    const reason = new Error('caller gave up')
    const controller = new AbortController()
    setTimeout(() => controller.abort(reason), 50)
    await expect(acquireFileLock(lockPath, { lockTimeout: 5000, signal: controller.signal })).rejects.toBe(
      reason
    )
    await first.release()
  })

  it('does not remove a lock that is no longer its own', async () => {
    const lock = await acquireFileLock(lockPath, { lockTimeout: 1000 })
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
  it('takes over a lock naming a live pid that is not its holder (the pid was reused)', async () => {
    // Our parent process is alive, but it never took this lock: the start time says so.
    const reused = {
      pid: process.ppid,
      hostname: os.hostname(),
      token: 'pid-reused',
      createdAt: new Date().toISOString(),
      processStart: 'another-boot:12345'
    }
    await fs.writeFile(lockPath, JSON.stringify(reused))
    const takenOver: Array<LockHolder | undefined> = []
    const started = Date.now()
    const lock = await acquireFileLock(lockPath, {
      lockTimeout: 5000,
      onStaleTakeover: async holder => void takenOver.push(holder)
    })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(takenOver).toEqual([reused])
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    await lock.release()
  })

  it('records its start time and keeps a lock whose live holder it names correctly', async () => {
    const lock = await acquireFileLock(lockPath, { lockTimeout: 1000 })
    const holder = await holderIn(lockPath)
    expect(holder.processStart).toMatch(/^[0-9a-f-]{36}:\d+$/)
    // Another acquirer sees the right pid with the right start time: a live holder, so it waits.
    const error = await acquireFileLock(lockPath, { lockTimeout: 200 }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ name: 'StoreLockTimeoutError', holder })
    await lock.release()
  })

  it('takes over a lock naming a live pid without a start time only once it has not been refreshed for a while', async () => {
    const older = {
      pid: process.ppid,
      hostname: os.hostname(),
      token: 'no-start',
      createdAt: '2026-01-01T00:00:00.000Z'
    }
    await fs.writeFile(lockPath, JSON.stringify(older))
    await expect(acquireFileLock(lockPath, { lockTimeout: 200 })).rejects.toMatchObject({
      name: 'StoreLockTimeoutError',
      holder: older
    })
    const old = new Date(Date.now() - LIVE_LOCK_STALE_AGE - 1000)
    await fs.utimes(lockPath, old, old)
    const lock = await acquireFileLock(lockPath, { lockTimeout: 1000 })
    expect((await holderIn(lockPath)).token).toBe(lock.holder.token)
    await lock.release()
  })

  it('never shows a reader an empty or partial lock file', async () => {
    // Another process reads the lock file as fast as it can while this one takes and releases it.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs')
        const file = process.argv[1]
        let seen = 0, bad = 0, sample = ''
        const until = Date.now() + 4000
        while (Date.now() < until) {
          let text
          try { text = fs.readFileSync(file, 'utf8') } catch { continue }
          seen++
          try { if (typeof JSON.parse(text).token !== 'string') throw 0 } catch { bad++; sample = text }
        }
        process.stdout.write(JSON.stringify({ seen, bad, sample }))`,
        lockPath
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    let output = ''
    reader.stdout.setEncoding('utf8')
    reader.stdout.on('data', (chunk: string) => {
      output += chunk
    })
    const exited = new Promise(resolve => reader.once('exit', resolve))
    let cycles = 0
    const until = Date.now() + 3500
    while (Date.now() < until) {
      const lock = await acquireFileLock(lockPath, { lockTimeout: 1000 })
      await lock.release()
      cycles++
    }
    await exited
    const result = JSON.parse(output) as { seen: number; bad: number; sample: string }
    expect(cycles).toBeGreaterThan(100)
    expect(result.seen).toBeGreaterThan(100)
    expect(result).toMatchObject({ bad: 0, sample: '' })
    // Nothing but the store's own files: no temp file of the lock is left behind.
    expect(await fs.readdir(dir.path)).toEqual([])
  })
})
