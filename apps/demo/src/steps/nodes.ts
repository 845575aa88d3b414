import { createIpfs, type Ipfs as KuboIpfs } from '@tk/api'
import type { Ipfs } from '@tk/interface'
import type { KuboBinarySource, KuboNode } from '@tk/testkit'
import { ARRIVAL_TIMEOUT, NODE_START_TIMEOUT } from '../constants.js'
import { count } from '../format.js'
import type { Output } from '../output.js'
import { waitUntil } from '../wait.js'
import type { DemoNode, StepOutcome, TourMode } from './step.js'

/** The nodes of a tour, and how to stop what was started for it. */
export interface DemoNodes extends AsyncDisposable {
  readonly a: DemoNode
  readonly b: DemoNode | undefined
  /** Closes the API clients and stops the nodes the tour started (never the user's daemon). */
  stop(): Promise<void>
}

export const NODES_STEP = {
  id: 'nodes',
  name: 'Nodes',
  title: 'Nodes: peer ids, addresses, the mode in use',
  hints: {
    embedded:
      'The embedded nodes listen on 127.0.0.1 (any free port); a firewall that blocks loopback connections would stop them.',
    kubo: 'Kubo must be installed or buildable: `npm run kubo` (or `pnpm kubo`) finds or builds it and says what is missing. Without Kubo or Go, `npm run demo` (no --kubo) runs the tour on embedded nodes.',
    mixed:
      'Kubo must be installed or buildable: `npm run kubo` (or `pnpm kubo`) finds or builds it and says what is missing. Without Kubo or Go, `npm run demo` (no --mixed) runs the tour on embedded nodes.',
    daemon:
      'Is your daemon running (`ipfs daemon`)? --api (or IPFS_API) must be its RPC address, Addresses.API in its config.'
  }
} as const satisfies { hints: Record<TourMode, string> } & Record<string, unknown>

const SOURCES: Record<KuboBinarySource, string> = {
  env: 'from KUBO_BINARY',
  path: 'from PATH',
  cache: 'from the tk cache',
  build: 'just built from source'
}

/** What the nodes step reports, built up as the nodes start. */
interface Started {
  nodes: DemoNode[]
  /** Ends everything started so far, the last first. */
  cleanups: Array<() => Promise<unknown>>
}

/**
 * Step 1: the tour's two nodes, connected: two embedded nodes in this process (`embedded`), two
 * fresh Kubo daemons from @tk/testkit (`kubo`), one of each (`mixed`: A Kubo, B embedded), or the
 * user's own daemon at `api` (`daemon`). Prints who they are and how the API reaches them.
 */
export async function openNodes(
  mode: TourMode,
  api: string | undefined,
  output: Output,
  signal: AbortSignal
): Promise<{ nodes: DemoNodes; outcome: StepOutcome }> {
  if (mode === 'daemon') {
    if (api == null) throw new Error('The daemon tour needs the address of its API')
    return await openDaemon(api, output, signal)
  }
  const started: Started = { nodes: [], cleanups: [] }
  const stop = async (): Promise<void> => {
    for (const cleanup of started.cleanups.splice(0).reverse()) await cleanup().catch(() => {})
  }
  try {
    const outcome =
      mode === 'embedded'
        ? await startEmbeddedPair(started, output, signal)
        : mode === 'kubo'
          ? await startKuboPair(started, output, signal)
          : await startMixedPair(started, output, signal)
    const [a, b] = started.nodes
    if (a == null || b == null) throw new Error('Fewer than two nodes started')
    await connectAndCheck(a, b, output, signal)
    return { nodes: { a, b, stop, [Symbol.asyncDispose]: stop }, outcome }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Two embedded nodes in this process: nothing to install, build or start outside it. */
async function startEmbeddedPair(
  started: Started,
  output: Output,
  signal: AbortSignal
): Promise<StepOutcome> {
  const a = await startEmbedded('A', started, output, signal)
  const b = await startEmbedded('B', started, output, signal)
  return {
    summary: 'two embedded nodes (Helia, js-libp2p) in this process, connected over loopback TCP',
    details: { mode: 'embedded', nodeA: 'embedded', nodeB: 'embedded', peerIdA: a.peerId, peerIdB: b.peerId }
  }
}

async function startKuboPair(started: Started, output: Output, signal: AbortSignal): Promise<StepOutcome> {
  const { binary, version } = await findKubo(output, signal)
  const { createKuboCluster } = await import('@tk/testkit')
  const cluster = await createKuboCluster(2, { binary, signal: startSignal(signal) })
  started.cleanups.push(async () => await cluster.stop())
  const [nodeA, nodeB] = cluster.nodes
  if (nodeA == null || nodeB == null) throw new Error('The cluster started fewer than two nodes')
  const a = await openKubo('A', nodeA, started, output, signal)
  const b = await openKubo('B', nodeB, started, output, signal)
  const backend = a.kubo?.backend ?? ''
  return {
    summary: `two fresh Kubo ${version} nodes, connected, over the ${backend} backend`,
    details: {
      mode: 'kubo',
      nodeA: 'kubo',
      nodeB: 'kubo',
      kubo: version,
      peerIdA: a.peerId,
      peerIdB: b.peerId,
      backend
    }
  }
}

/** A a Kubo daemon, B embedded: every later step then crosses between the two implementations. */
async function startMixedPair(started: Started, output: Output, signal: AbortSignal): Promise<StepOutcome> {
  const { binary, version } = await findKubo(output, signal)
  const { createKuboNode } = await import('@tk/testkit')
  const node = await createKuboNode({ binary, signal: startSignal(signal) })
  started.cleanups.push(async () => await node.stop())
  const a = await openKubo('A', node, started, output, signal)
  const b = await startEmbedded('B', started, output, signal)
  const backend = a.kubo?.backend ?? ''
  return {
    summary: `a fresh Kubo ${version} node (A) and an embedded node (B), connected`,
    details: {
      mode: 'mixed',
      nodeA: 'kubo',
      nodeB: 'embedded',
      kubo: version,
      peerIdA: a.peerId,
      peerIdB: b.peerId,
      backend
    }
  }
}

/** Starting nodes may take long on a busy machine, but not for ever; Ctrl-C ends it at once. */
function startSignal(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(NODE_START_TIMEOUT)])
}

async function findKubo(output: Output, signal: AbortSignal): Promise<{ binary: string; version: string }> {
  // Loaded here only: the embedded tour never looks for Kubo.
  const { findKuboBinary } = await import('@tk/testkit')
  // No time limit here: the first run on a machine builds Kubo, which takes minutes and says so.
  const kubo = await findKuboBinary({ signal })
  output.line(`Kubo ${kubo.version}, ${SOURCES[kubo.source]}: ${kubo.path}`)
  return { binary: kubo.path, version: kubo.version }
}

async function startEmbedded(
  label: string,
  started: Started,
  output: Output,
  signal: AbortSignal
): Promise<DemoNode> {
  // Loaded here only: the Kubo tour never loads Helia.
  const { createEmbeddedIpfs } = await import('@tk/embedded')
  // No repo: an ephemeral node in memory, gone when the tour ends.
  const ipfs = await createEmbeddedIpfs({ signal: startSignal(signal) })
  started.cleanups.push(async () => await ipfs.close())
  const node = await describe(label, ipfs, undefined, output, signal)
  started.nodes.push(node)
  return node
}

async function openKubo(
  label: string,
  node: KuboNode,
  started: Started,
  output: Output,
  signal: AbortSignal
): Promise<DemoNode> {
  // `createIpfs` with the node's API address is all it takes; the backend is chosen on first use.
  const kubo = createIpfs({ api: node.apiMultiaddr })
  started.cleanups.push(async () => await kubo.close())
  const described = await describe(label, kubo, kubo, output, signal)
  started.nodes.push(described)
  return described
}

/**
 * Connects B to A (at A's first TCP address) unless they are already, and waits until each lists
 * the other: the later steps all need the connection.
 */
async function connectAndCheck(a: DemoNode, b: DemoNode, output: Output, signal: AbortSignal): Promise<void> {
  if (!(await b.ipfs.peers.list({ signal })).includes(a.peerId)) {
    const address = (await a.ipfs.addresses({ signal })).find(candidate =>
      /\/tcp\/\d+\/p2p\//.test(candidate)
    )
    if (address == null) throw new Error(`${a.label} has no TCP address to connect to`)
    await b.ipfs.peers.connect(address, { signal, timeout: ARRIVAL_TIMEOUT })
  }
  await waitUntil(
    async () =>
      (await a.ipfs.peers.list({ signal })).includes(b.peerId) &&
      (await b.ipfs.peers.list({ signal })).includes(a.peerId),
    'A and B listing each other as peers',
    ARRIVAL_TIMEOUT,
    signal
  )
  const peersOfA = await a.ipfs.peers.list({ signal })
  output.line(`A is connected to B (A lists ${count(peersOfA.length, 'peer')})`)
}

async function openDaemon(
  api: string,
  output: Output,
  signal: AbortSignal
): Promise<{ nodes: DemoNodes; outcome: StepOutcome }> {
  const ipfs = createIpfs({ api })
  const stop = async (): Promise<void> => {
    await ipfs.close()
  }
  try {
    const node = await describe('your node', ipfs, ipfs, output, signal)
    const peers = await ipfs.peers.list({ signal })
    output.line(`Connected to ${count(peers.length, 'peer')}`)
    return {
      nodes: { a: node, b: undefined, stop, [Symbol.asyncDispose]: stop },
      outcome: {
        summary: `your node at ${api}, over the ${ipfs.backend} backend`,
        details: { mode: 'daemon', nodeA: 'kubo', peerIdA: node.peerId, backend: ipfs.backend ?? '' }
      }
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Prints a node's id, what it is (embedded, or Kubo and its backend) and its addresses. */
async function describe(
  label: string,
  ipfs: Ipfs,
  kubo: KuboIpfs | undefined,
  output: Output,
  signal: AbortSignal
): Promise<DemoNode> {
  // Kubo's `auto` backend settles HTTP or CLI on the first call; this one says what it found.
  const backend = await kubo?.chooseBackend({ signal })
  const [peerId, addresses, version] = await Promise.all([
    ipfs.peerId({ signal }),
    ipfs.addresses({ signal }),
    kubo?.version({ signal })
  ])
  output.line(`${output.style('bold', label)}  ${peerId}`)
  output.line(
    kubo == null
      ? '   an embedded node (Helia, js-libp2p) in this process'
      : `   Kubo ${version?.version}, reached over ${backend === 'http' ? 'its HTTP API' : 'the ipfs CLI'}`
  )
  for (const address of addresses) output.line(`   ${output.style('dim', address)}`)
  return kubo == null ? { label, ipfs, peerId } : { label, ipfs, peerId, kubo }
}
