import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createKuboClient, type KuboClient } from '@tk/rpc'
import type { KuboNode } from '@tk/testkit'
import { cliTransport } from '../src/index.js'

/** The @tk/rpc client through the CLI transport, on a testkit node's daemon and repo. */
export function cliClientOf(node: KuboNode): KuboClient {
  return createKuboClient({
    transport: cliTransport({ binary: node.binary, api: node.apiMultiaddr, repoPath: node.repoPath })
  })
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return new Uint8Array(Buffer.concat(parts))
}

export async function text(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  return new TextDecoder().decode(await collect(chunks))
}

export async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = []
  for await (const item of items) result.push(item)
  return result
}

/** How many running `ipfs` processes have `marker` in their command line (Linux: /proc). */
export async function ipfsProcessesWith(marker: string): Promise<number> {
  let count = 0
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(marker) && cmdline.split('\0')[0]?.endsWith('ipfs') === true) count++
  }
  return count
}

/** What this process's open file descriptors point at (Linux: /proc/self/fd). */
export async function openFds(): Promise<string[]> {
  const fds = await fs.readdir('/proc/self/fd')
  const targets = await Promise.all(
    fds.map(async fd => await fs.readlink(`/proc/self/fd/${fd}`).catch(() => 'gone'))
  )
  // readdir itself holds one fd while listing, already closed now.
  return targets.filter(target => target !== 'gone')
}

/** The fds open now that were not open `before` (others, e.g. the test runner's, may have closed meanwhile). */
export async function fdsOpenedSince(before: readonly string[]): Promise<string[]> {
  const remaining = [...before]
  const opened: string[] = []
  for (const target of await openFds()) {
    const index = remaining.indexOf(target)
    if (index === -1) opened.push(target)
    else remaining.splice(index, 1)
  }
  return opened
}

/** A folder TMPDIR points at for one test file; `restore()` points TMPDIR back and removes the folder. */
export interface OwnTmpdir {
  readonly dir: string
  restore(): Promise<void>
}

/**
 * Points TMPDIR, where the CLI transport puts each call's files, at a new folder of the test file's
 * own, so that a check that nothing is left behind sees only that file's calls.
 */
export async function ownTmpdir(prefix: string): Promise<OwnTmpdir> {
  const saved = process.env.TMPDIR
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  process.env.TMPDIR = dir
  return {
    dir,
    restore: async () => {
      if (saved === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = saved
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}
