import { readFileSync, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { NODE_DIR_PREFIX } from './constants.js'
import { isProcessAlive } from './exec.js'

/**
 * Everything a disposable node leaves on the machine: its process group and its temp folder. The
 * folder's `owner.json` names both, so a later run can clean up after a process that was killed
 * before it could (`sweepStaleNodes`).
 */
export interface NodeResources {
  dir: string
  daemonPid?: number
}

export interface OwnerRecord {
  ownerPid: number
  daemonPid?: number
}

const live = new Set<NodeResources>()
let hooksInstalled = false

/** Tracks a node so that it is killed and its folder removed if this process exits or is interrupted. */
export function track(resources: NodeResources): void {
  installHooks()
  live.add(resources)
}

export function untrack(resources: NodeResources): void {
  live.delete(resources)
}

export async function writeOwner(resources: NodeResources): Promise<void> {
  const record: OwnerRecord = { ownerPid: process.pid, daemonPid: resources.daemonPid }
  await fs.writeFile(path.join(resources.dir, 'owner.json'), JSON.stringify(record))
}

/** Kills a node's whole process group. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, signal)
  } catch {
    // Already gone (ESRCH), which is what we want.
  }
}

function cleanupSync(): void {
  for (const resources of live) {
    if (resources.daemonPid != null) killGroup(resources.daemonPid, 'SIGKILL')
    rmSync(resources.dir, { recursive: true, force: true, maxRetries: 3 })
  }
  live.clear()
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

function installHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.once('exit', cleanupSync)
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      cleanupSync()
      // When we are the only listener, Node would have exited on this signal: do that now.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
    }
    process.on(signal, onSignal)
  }
}

/**
 * Removes what disposable nodes of processes that no longer exist left behind (a test run killed
 * with SIGKILL cannot clean up): kills their daemons and deletes their temp folders. Returns the
 * folders removed. Nodes of live processes are never touched.
 */
export async function sweepStaleNodes(tmpDir: string = os.tmpdir()): Promise<string[]> {
  const removed: string[] = []
  let entries: string[]
  try {
    entries = await fs.readdir(tmpDir)
  } catch {
    return removed
  }
  for (const entry of entries) {
    if (!entry.startsWith(NODE_DIR_PREFIX)) continue
    const dir = path.join(tmpDir, entry)
    const owner = readOwner(dir)
    if (owner == null) {
      // No owner yet: a node being created right now, or one whose creator died at once. Only the
      // second kind gets old.
      const stat = await fs.stat(dir).catch(() => undefined)
      if (stat == null || Date.now() - stat.mtimeMs < 10 * 60_000) continue
    } else if (isProcessAlive(owner.ownerPid)) {
      continue
    } else if (owner.daemonPid != null && isKuboProcess(owner.daemonPid, dir)) {
      killGroup(owner.daemonPid, 'SIGKILL')
    }
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 })
    removed.push(dir)
  }
  return removed
}

function readOwner(dir: string): OwnerRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'owner.json'), 'utf8')) as OwnerRecord
  } catch {
    return undefined
  }
}

/** Guards against pid reuse: only a process whose environment points at this node's repo is ours. */
function isKuboProcess(pid: number, dir: string): boolean {
  if (!isProcessAlive(pid)) return false
  if (process.platform !== 'linux') return true
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`IPFS_PATH=${path.join(dir, 'repo')}`)
  } catch {
    return false
  }
}
