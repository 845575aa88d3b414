import type { StreamSource } from '@tk/interface'
import type { KuboClient } from '@tk/rpc'

/**
 * What the Python IPFS-Toolkit's format needs of the node: its one-off tunnels are Kubo's
 * (`p2p listen` on names the Python side picks), its requests go out on a stream source.
 */
export interface PythonNode {
  readonly p2p: KuboClient['p2p']
  readonly streams: StreamSource
}
