import { setTimeout as sleep } from 'node:timers/promises'
import { CONNECT_POLL_INTERVAL, DEFAULT_CONNECT_TIMEOUT } from './constants.js'
import { KuboConnectError } from './errors.js'
import { createKuboNode, type KuboNode, type KuboNodeInit } from './kubo-node.js'
import { rpc } from './rpc.js'
import { type KuboStep, StepClock } from './steps.js'

export interface ConnectOptions {
  signal?: AbortSignal
  /** How long the dial and the wait for both sides to see each other may take (ms). */
  timeout?: number
}

/** Several disposable nodes, each swarm-connected to every other one. */
export interface KuboCluster extends AsyncDisposable {
  readonly nodes: readonly KuboNode[]
  /** Stops every node. */
  stop(): Promise<void>
}

/**
 * Connects two nodes: `a` dials `b`'s swarm addresses, then waits until each lists the other in
 * `swarm peers` and, when the DHT runs, in its LAN routing table (a peer is connected a moment
 * before the DHT has checked its protocols and taken it in; a query in between finds nobody).
 * Resolves with how long each step took (`dial`, `peers`, `routing`); fails with
 * {@link KuboConnectError}, which says the same.
 */
export async function connect(
  a: KuboNode,
  b: KuboNode,
  options: ConnectOptions = {}
): Promise<readonly KuboStep[]> {
  const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT
  const signal = AbortSignal.any([
    ...(options.signal == null ? [] : [options.signal]),
    AbortSignal.timeout(timeout)
  ])
  const clock = new StepClock()
  try {
    clock.begin('dial')
    await rpc(a.apiUrl, 'swarm/connect', { args: [...b.swarmAddrs], signal, authorization: a.authorization })
    clock.begin('peers')
    await Promise.all([waitForPeer(a, b.peerId, signal), waitForPeer(b, a.peerId, signal)])
    clock.begin('routing')
    await Promise.all([waitForRoutingTable(a, b, signal), waitForRoutingTable(b, a, signal)])
    clock.end()
    return clock.steps
  } catch (error) {
    const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError'
    const why = !signal.aborted
      ? `failed: ${(error as Error).message}`
      : timedOut
        ? `did not finish within its ${timeout / 1000} s timeout`
        : `was aborted: ${String((signal.reason as Error | undefined)?.message ?? signal.reason)}`
    throw new KuboConnectError(`Connecting ${a.peerId} (${a.apiUrl}) to ${b.peerId} (${b.apiUrl}) ${why}`, {
      cause: error,
      steps: clock.steps
    })
  }
}

interface DhtTable {
  Buckets: Array<{ Peers: Array<{ ID: string }> | null }> | null
}

const LAN_DHT_PROTOCOL = '/ipfs/lan/kad/1.0.0'

/** Waits until `node`'s LAN DHT holds `peer`, if `peer` serves the LAN DHT (else it never will). */
async function waitForRoutingTable(node: KuboNode, peer: KuboNode, signal: AbortSignal): Promise<void> {
  const id = await rpc<{ Protocols: string[] | null }>(peer.apiUrl, 'id', {
    signal,
    authorization: peer.authorization
  })
  if (!(id.Protocols ?? []).includes(LAN_DHT_PROTOCOL)) return
  for (;;) {
    let table: DhtTable
    try {
      table = await rpc<DhtTable>(node.apiUrl, 'stats/dht', {
        args: ['lan'],
        signal,
        authorization: node.authorization
      })
    } catch (error) {
      signal.throwIfAborted()
      // A node configured without the DHT (Routing.Type none, or a delegated router) has no table to wait for.
      if (/routing service is not a DHT/.test((error as Error).message)) return
      throw error
    }
    const peers = (table.Buckets ?? []).flatMap(bucket => bucket.Peers ?? [])
    if (peers.some(entry => entry.ID === peer.peerId)) return
    await sleep(CONNECT_POLL_INTERVAL, undefined, { signal })
  }
}

async function waitForPeer(node: KuboNode, peerId: string, signal: AbortSignal): Promise<void> {
  for (;;) {
    const peers = await rpc<{ Peers: Array<{ Peer: string }> | null }>(node.apiUrl, 'swarm/peers', {
      signal,
      authorization: node.authorization
    })
    if ((peers.Peers ?? []).some(peer => peer.Peer === peerId)) return
    await sleep(CONNECT_POLL_INTERVAL, undefined, { signal })
  }
}

/**
 * Starts `count` disposable nodes in parallel and connects every pair. If any node fails to start,
 * the others are stopped and the first error is thrown.
 */
export async function createKuboCluster(count: number, init: KuboNodeInit = {}): Promise<KuboCluster> {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`A cluster needs a whole number of nodes >= 1, got ${count}`)
  }
  const started = await Promise.allSettled(Array.from({ length: count }, () => createKuboNode(init)))
  const nodes = started.flatMap(result => (result.status === 'fulfilled' ? [result.value] : []))
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map(node => node.stop()))
  }
  try {
    const failed = started.find(result => result.status === 'rejected')
    if (failed != null) throw failed.reason
    const pairs = nodes.flatMap((a, index) => nodes.slice(index + 1).map(b => [a, b] as const))
    await Promise.all(pairs.map(([a, b]) => connect(a, b, { signal: init.signal })))
  } catch (error) {
    await stop()
    throw error
  }
  return { nodes, stop, [Symbol.asyncDispose]: stop }
}
