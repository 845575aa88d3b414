import type { Ipfs as GroupedIpfs } from '@tk/interface'
import { createKuboClient } from '@tk/rpc'
import { createKuboStreamSource } from '@tk/rpc/streams'
import { BackendTransport } from './backend.js'
import { createContentFunctions } from './content.js'
import type { ApiContext } from './context.js'
import { createDaemonFunctions } from './daemon.js'
import { createIpnsFunctions } from './ipns.js'
import { createNodeFunctions } from './node.js'
import type { BackendName, CallOptions, IpfsOptions } from './options.js'
import { createPeerFunctions } from './peers.js'
import { createPubsubFunctions } from './pubsub.js'
import { createTunnelFunctions } from './tunnels.js'

/**
 * Creates the programmer-friendly API on one Kubo node. Nothing is contacted until the first
 * call; with `backend: 'auto'` (default) that call picks HTTP or the CLI.
 */
export function createIpfs(options: IpfsOptions = {}) {
  const transport = new BackendTransport(options)
  const client = createKuboClient({ transport })
  const context: ApiContext = { client, transport, options: { ...options } }
  const node = createNodeFunctions(context)
  const content = createContentFunctions(context)
  const ipns = createIpnsFunctions(context, content)
  const peers = createPeerFunctions(context)
  const pubsub = createPubsubFunctions(context)
  const tunnels = createTunnelFunctions(context)
  const streams = createKuboStreamSource(client)
  const close = async (): Promise<void> => {
    try {
      await streams.close()
    } finally {
      await transport.close()
    }
  }

  return {
    /** The full typed client (@tk/rpc) on the same backend, for everything else Kubo offers. */
    client,
    /** The backend in use: `http` or `cli`; `undefined` until `auto` has chosen (first call, or `chooseBackend()`). */
    get backend(): BackendName | undefined {
      return transport.chosen
    },
    /** Settles the `auto` choice now; rejects with `NoIpfsNodeError` (what was tried, how to fix) when no node answers. */
    chooseBackend: async (callOptions: CallOptions = {}): Promise<BackendName> =>
      await transport.choose(callOptions),
    ...node,
    ...createDaemonFunctions(context),
    ...content,
    ...ipns,
    ...peers,
    ...pubsub,
    ...tunnels,

    // The grouped API of @tk/interface (the same functions under its names), so code written
    // against `Ipfs` from @tk/interface runs on this Kubo node as on an embedded one.
    /** Always `kubo`: a separate Kubo daemon. */
    mode: 'kubo' as const,
    /** This node's peer id (`myId`). */
    peerId: node.myId,
    /** This node's addresses, each ending in `/p2p/<peer id>` (`myMultiaddrs`). */
    addresses: node.myMultiaddrs,
    content: {
      publish: content.publish,
      predictCid: content.predictCid,
      read: content.read,
      readStream: content.readStream,
      download: content.download,
      pin: content.pin,
      unpin: content.unpin,
      pins: content.pins,
      remove: content.remove
    },
    ipns: {
      createKey: ipns.createIpnsKey,
      listKeys: ipns.listIpnsKeys,
      deleteKey: ipns.deleteIpnsKey,
      publish: ipns.updateIpnsRecordFromCid,
      publishFile: ipns.updateIpnsRecord,
      resolve: ipns.resolveIpns,
      read: ipns.readIpnsRecord,
      download: ipns.downloadIpnsRecord
    },
    pubsub: {
      subscribe: pubsub.pubsubSubscribe,
      publish: pubsub.pubsubPublish,
      peers: pubsub.pubsubPeers,
      topics: pubsub.pubsubTopics
    },
    peers: {
      connect: peers.connectToPeer,
      disconnect: peers.disconnectFromPeer,
      list: peers.listPeers,
      connections: peers.listConnections,
      isConnected: peers.isPeerConnected,
      find: peers.findPeer,
      findProviders: peers.findProviders
    },
    tunnels: {
      openListener: tunnels.openListener,
      openSender: tunnels.openSender,
      closeListener: tunnels.closeListener,
      closeSender: tunnels.closeSender,
      list: tunnels.listTunnels
    },
    /** Byte streams on `/x/<name>` for @tk/transmission, over `p2p listen --report-peer-id` and `p2p forward`. */
    streams: { peerId: streams.peerId, serve: streams.serve, open: streams.open },
    /** Ends pooled connections and running `ipfs` processes; idempotent. */
    close,
    [Symbol.asyncDispose]: close
  }
}

export type Ipfs = ReturnType<typeof createIpfs>

/** Compile-time proof that a Kubo instance is @tk/interface's `Ipfs` (the build fails where it is not). */
type KuboSatisfiesInterface = Ipfs extends GroupedIpfs ? true : never
const kuboSatisfiesInterface: KuboSatisfiesInterface = true
void kuboSatisfiesInterface
