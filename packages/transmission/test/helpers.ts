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

export interface Pair {
  cluster: KuboCluster
  a: { node: KuboNode; ipfs: Ipfs }
  b: { node: KuboNode; ipfs: Ipfs }
  stop(): Promise<void>
}

/** Two connected testkit nodes with an HTTP `ipfs` instance each. */
export async function startPair(init: KuboNodeInit = {}): Promise<Pair> {
  const cluster = await createKuboCluster(2, init)
  const [nodeA, nodeB] = cluster.nodes
  if (nodeA == null || nodeB == null) throw new Error('expected two nodes')
  const a = { node: nodeA, ipfs: createIpfs({ backend: 'http', api: nodeA.apiUrl }) }
  const b = { node: nodeB, ipfs: createIpfs({ backend: 'http', api: nodeB.apiUrl }) }
  return {
    cluster,
    a,
    b,
    stop: async () => {
      await Promise.all([a.ipfs.close(), b.ipfs.close()])
      await cluster.stop()
    }
  }
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
