import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createIpfs, type Ipfs } from '@tk/api'
import { createKuboCluster, type KuboCluster, type KuboNode, type KuboNodeInit } from '@tk/testkit'
import { afterAll, beforeAll } from 'vitest'

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** A testkit node and an HTTP `ipfs` instance on it. */
export interface Peer {
  node: KuboNode
  ipfs: Ipfs
}

export interface Pair {
  cluster: KuboCluster
  a: Peer
  b: Peer
  /** Closes the `ipfs` instances, then stops the nodes. */
  stop(): Promise<void>
}

export interface Trio extends Pair {
  c: Peer
}

/** `count` connected testkit nodes with an HTTP `ipfs` instance each. */
async function startPeers(count: number, init: KuboNodeInit) {
  const cluster = await createKuboCluster(count, init)
  const peers: Peer[] = cluster.nodes.map(node => ({
    node,
    ipfs: createIpfs({ backend: 'http', api: node.apiUrl })
  }))
  const stop = async (): Promise<void> => {
    await Promise.all(peers.map(peer => peer.ipfs.close()))
    await cluster.stop()
  }
  return { cluster, peers, stop }
}

/** Two connected testkit nodes with an HTTP `ipfs` instance each. */
export async function startPair(init: KuboNodeInit = {}): Promise<Pair> {
  const { cluster, peers, stop } = await startPeers(2, init)
  const [a, b] = peers
  if (a == null || b == null) throw new Error('expected two nodes')
  return { cluster, a, b, stop }
}

/** Three connected testkit nodes with an HTTP `ipfs` instance each. */
export async function startTrio(init: KuboNodeInit = {}): Promise<Trio> {
  const { cluster, peers, stop } = await startPeers(3, init)
  const [a, b, c] = peers
  if (a == null || b == null || c == null) throw new Error('expected three nodes')
  return { cluster, a, b, c, stop }
}

/**
 * Registers `beforeAll`/`afterAll` around the enclosing `describe` (or the file): `started` fills
 * the returned object before the tests, `stop` ends it after them. Read its fields inside tests,
 * not at `describe` time.
 */
function useStarted<T extends object>(started: () => Promise<T>, stop: (value: T) => Promise<void>): T {
  // Empty until beforeAll has run; no test can see it before then.
  const value = {} as T
  let ready = false
  beforeAll(async () => {
    Object.assign(value, await started())
    ready = true
  })
  afterAll(async () => {
    if (ready) await stop(value)
  })
  return value
}

/** {@link startPair} for the tests of the enclosing `describe` (or the file). */
export function usePair(init: KuboNodeInit = {}): Pair {
  return useStarted(
    () => startPair(init),
    pair => pair.stop()
  )
}

/** {@link startTrio} for the tests of the enclosing `describe` (or the file). */
export function useTrio(init: KuboNodeInit = {}): Trio {
  return useStarted(
    () => startTrio(init),
    trio => trio.stop()
  )
}

/** A temp directory `tk-<label>-…` for the tests of the enclosing `describe` (or the file), removed after them. */
export function useTemporaryDirectory(label: string): { path: string } {
  return useStarted(
    async () => ({ path: await fs.mkdtemp(path.join(os.tmpdir(), `tk-${label}-`)) }),
    directory => fs.rm(directory.path, { recursive: true, force: true })
  )
}

/** Resolves with the next value `register` delivers, or rejects after `ms`. */
export function nextValue<T>(ms = 20_000): { promise: Promise<T>; deliver: (value: T) => void } {
  let deliver: (value: T) => void = () => {}
  const promise = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing arrived within ${ms} ms`)), ms)
    deliver = value => {
      clearTimeout(timer)
      resolve(value)
    }
  })
  return { promise, deliver }
}
