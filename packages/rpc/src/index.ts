/**
 * @packageDocumentation
 *
 * A typed Kubo HTTP RPC client that covers the whole RPC, shaped like the `ipfs` CLI.
 *
 * @example
 *
 * ```ts
 * import { createKuboClient } from '@tk/rpc'
 *
 * await using client = createKuboClient() // IPFS_API, then ~/.ipfs/api, then 127.0.0.1:5001
 * const { cid } = await client.add('hello world')
 * const chunks = []
 * for await (const chunk of client.cat(cid)) chunks.push(chunk)
 * console.log(cid, Buffer.concat(chunks).toString()) // QmY… hello world
 * ```
 */

export type { AddContent, AddEntry, AddInput, PathEntriesOptions } from './add-source.js'
export { type ApiEndpoint, parseApiAddress, resolveApiEndpoint } from './address.js'
export { createKuboClient, type KuboClient, type KuboClientInit, type RawRequestOptions } from './client.js'
export type * from './commands/bitswap.js'
export type * from './commands/block.js'
export type * from './commands/bootstrap.js'
export type * from './commands/cid.js'
export type * from './commands/config.js'
export type * from './commands/dag.js'
export type * from './commands/dht.js'
export type * from './commands/diag.js'
export type * from './commands/files.js'
export type * from './commands/filestore.js'
export type * from './commands/key.js'
export type * from './commands/log.js'
export type * from './commands/multibase.js'
export type * from './commands/name.js'
export type * from './commands/object.js'
export type * from './commands/p2p.js'
export type * from './commands/pin.js'
export type * from './commands/provide.js'
export type * from './commands/pubsub.js'
export type * from './commands/repo.js'
export type * from './commands/root.js'
export type * from './commands/routing.js'
export type * from './commands/stats.js'
export type * from './commands/swarm.js'
export {
  AbortError,
  DaemonUnreachableError,
  InvalidArgumentError,
  KuboRpcError,
  type KuboRpcErrorOptions,
  ListenerTunnelLostError,
  RpcTimeoutError,
  StreamMountingDisabledError
} from './errors.js'
export { type HttpTransportInit, httpTransport } from './http-transport.js'
export type { CallOptions, Duration } from './options.js'
// The types a transport implements: `createKuboClient({ transport })` takes one, `request()` answers with an RpcResponse.
export type * from './transport.js'
