/**
 * @packageDocumentation
 *
 * The @tk/rpc client through the `ipfs` command line: a transport that runs each command as an
 * `ipfs` process, plus the commands only the CLI has (`key export`, `key rotate`).
 *
 * @example
 *
 * ```ts
 * import { createKuboClient } from '@tk/rpc'
 * import { cliTransport } from '@tk/cli-backend'
 *
 * // KUBO_BINARY, then `ipfs` on PATH; IPFS_PATH (or ~/.ipfs) names the repo and its daemon.
 * await using client = createKuboClient({ transport: cliTransport() })
 * const { cid } = await client.add('hello world')
 * const chunks = []
 * for await (const chunk of client.cat(cid)) chunks.push(chunk)
 * console.log(cid, Buffer.concat(chunks).toString()) // Qm… hello world
 * ```
 */

/** Re-exported from @tk/kubo-process, where the lookup lives. */
export { findIpfsBinary } from '@tk/kubo-process'
export {
  createCliOnlyCommands,
  createKuboCliClient,
  type KeyExportOptions,
  type KeyRotateOptions,
  type KeyRotateResult,
  type KuboCliClient
} from './cli-only.js'
export { type CliTransportInit, cliTransport } from './cli-transport.js'
export { DEFAULT_IDLE_TIMEOUT, DEFAULT_TIMEOUT } from './constants.js'
export { KuboBinaryNotFoundError } from './errors.js'
