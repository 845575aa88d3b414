/**
 * `@tk/rpc/transport`: what a transport and a package of extra commands are built from (the CLI
 * backend's `cliTransport`, its CLI-only commands). Not for applications: they use the client from
 * `@tk/rpc`. These may change in a minor release of @tk/rpc; the root's exports do not.
 */

export type { FilestoreEntryWire } from './commands/filestore.js'
export { Invoker, list, type RequestShape } from './invoker.js'
export { kebabCase, toKuboOptions } from './options.js'
export { parseJsonOutput, parseNdjson, splitLines } from './output.js'
export type * from './transport.js'
