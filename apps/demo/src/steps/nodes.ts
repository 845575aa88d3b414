import { createIpfs, type Ipfs } from '@tk/api'
import { createKuboCluster, findKuboBinary, type KuboBinarySource } from '@tk/testkit'
import { NODE_START_TIMEOUT } from '../constants.js'
import { count } from '../format.js'
import type { Output } from '../output.js'
import type { DemoNode, StepOutcome } from './step.js'

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
  title: 'Nodes: peer ids, addresses, the backend in use',
  hint: 'Kubo must be installed or buildable: `npm run kubo` (or `pnpm kubo`) finds or builds it and says what is missing.',
  daemonHint:
    'Is your daemon running (`ipfs daemon`)? --api (or IPFS_API) must be its RPC address, Addresses.API in its config.'
} as const

const SOURCES: Record<KuboBinarySource, string> = {
  env: 'from KUBO_BINARY',
  path: 'from PATH',
  cache: 'from the tk cache',
  build: 'just built from source'
}

/**
 * Step 1: two fresh, connected Kubo nodes from @tk/testkit, or the user's own daemon at `api`.
 * Prints who they are and how the API talks to them.
 */
export async function openNodes(
  api: string | undefined,
  output: Output,
  signal: AbortSignal
): Promise<{ nodes: DemoNodes; outcome: StepOutcome }> {
  return api == null ? await startLocalNodes(output, signal) : await openDaemon(api, output, signal)
}

async function startLocalNodes(
  output: Output,
  signal: AbortSignal
): Promise<{ nodes: DemoNodes; outcome: StepOutcome }> {
  // No time limit here: the first run on a machine builds Kubo, which takes minutes and says so.
  const kubo = await findKuboBinary({ signal })
  output.line(`Kubo ${kubo.version}, ${SOURCES[kubo.source]}: ${kubo.path}`)
  const cluster = await createKuboCluster(2, {
    binary: kubo.path,
    signal: AbortSignal.any([signal, AbortSignal.timeout(NODE_START_TIMEOUT)])
  })
  const [nodeA, nodeB] = cluster.nodes
  const clients: Ipfs[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(clients.map(async ipfs => await ipfs.close()))
    await cluster.stop()
  }
  try {
    if (nodeA == null || nodeB == null) throw new Error('The cluster started fewer than two nodes')
    // `createIpfs` with the node's API address is all it takes; the backend is chosen on first use.
    const a = await describe('A', createIpfs({ api: nodeA.apiMultiaddr }), output, signal)
    clients.push(a.ipfs)
    const b = await describe('B', createIpfs({ api: nodeB.apiMultiaddr }), output, signal)
    clients.push(b.ipfs)
    const peersOfA = await a.ipfs.listPeers({ signal })
    if (!peersOfA.includes(b.peerId)) throw new Error('A is not connected to B')
    output.line(`A is connected to B (A lists ${count(peersOfA.length, 'peer')})`)
    return {
      nodes: { a, b, stop, [Symbol.asyncDispose]: stop },
      outcome: {
        summary: `two fresh Kubo ${kubo.version} nodes, connected, over the ${a.ipfs.backend} backend`,
        details: { kubo: kubo.version, peerIdA: a.peerId, peerIdB: b.peerId, backend: a.ipfs.backend ?? '' }
      }
    }
  } catch (error) {
    await stop()
    throw error
  }
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
    const node = await describe('your node', ipfs, output, signal)
    const peers = await ipfs.listPeers({ signal })
    output.line(`Connected to ${count(peers.length, 'peer')}`)
    return {
      nodes: { a: node, b: undefined, stop, [Symbol.asyncDispose]: stop },
      outcome: {
        summary: `your node at ${api}, over the ${ipfs.backend} backend`,
        details: { peerIdA: node.peerId, backend: ipfs.backend ?? '' }
      }
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Prints a node's id, backend, version and addresses. */
async function describe(label: string, ipfs: Ipfs, output: Output, signal: AbortSignal): Promise<DemoNode> {
  const backend = await ipfs.chooseBackend({ signal })
  const [peerId, addresses, version] = await Promise.all([
    ipfs.myId({ signal }),
    ipfs.myMultiaddrs({ signal }),
    ipfs.version({ signal })
  ])
  output.line(`${output.style('bold', label)}  ${peerId}`)
  output.line(
    `   Kubo ${version.version}, reached over ${backend === 'http' ? 'its HTTP API' : 'the ipfs CLI'}`
  )
  for (const address of addresses) output.line(`   ${output.style('dim', address)}`)
  return { label, ipfs, peerId }
}
