import type { KuboClient } from '@tk/rpc'
import type { BackendTransport } from './backend.js'
import type { IpfsOptions } from './options.js'

/** What every group of functions is built from; one per `createIpfs()` instance. */
export interface ApiContext {
  /** The full client, on the chosen backend. */
  readonly client: KuboClient
  /** The transport under `client`; `transport.choose()` settles the `auto` backend. */
  readonly transport: BackendTransport
  /** The options `createIpfs` was given. */
  readonly options: Readonly<IpfsOptions>
}
