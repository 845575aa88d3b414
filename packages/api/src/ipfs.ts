import { createKuboClient } from '@tk/rpc'
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
  const close = async (): Promise<void> => {
    await transport.close()
  }
  const content = createContentFunctions(context)

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
    ...createNodeFunctions(context),
    ...createDaemonFunctions(context),
    ...content,
    ...createIpnsFunctions(context, content),
    ...createPeerFunctions(context),
    ...createPubsubFunctions(context),
    ...createTunnelFunctions(context),
    /** Ends pooled connections and running `ipfs` processes; idempotent. */
    close,
    [Symbol.asyncDispose]: close
  }
}

export type Ipfs = ReturnType<typeof createIpfs>
