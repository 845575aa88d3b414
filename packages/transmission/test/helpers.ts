import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { createIpfs, type Ipfs } from '@tk/api'
import { createKuboCluster, type KuboCluster, type KuboNode, type KuboNodeInit } from '@tk/testkit'

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
