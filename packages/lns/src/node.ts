import type { Peers } from '@tk/interface'

/**
 * What contacts need of an IPFS node: three calls of the `peers` group of @tk/interface's `Ipfs`.
 * Any `Ipfs` fits as it is: a Kubo node through @tk/api's `createIpfs()` or `openIpfs()`, or an
 * embedded node through @tk/embedded's `createEmbeddedIpfs()`.
 */
export interface ContactsNode {
  readonly peers: Pick<Peers, 'connect' | 'connections' | 'find'>
}
