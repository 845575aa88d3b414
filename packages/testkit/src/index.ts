/**
 * @packageDocumentation
 *
 * Real, disposable Kubo daemons for tests, demos and benchmarks, and a Kubo binary on demand
 * (found on the machine or built once from Kubo's Go module).
 *
 * @example
 *
 * ```ts
 * import { createKuboCluster } from '@tk/testkit'
 *
 * await using cluster = await createKuboCluster(2)
 * const [a, b] = cluster.nodes
 * console.log(a.peerId, 'is connected to', b.peerId, 'API at', a.apiUrl)
 * // both daemons stop and their repos are deleted when `cluster` goes out of scope
 * ```
 */

export { sweepStaleNodes } from './cleanup.js'
export { type ConnectOptions, connect, createKuboCluster, type KuboCluster } from './cluster.js'
export { MIN_KUBO_VERSION } from './constants.js'
export {
  KuboBinaryError,
  KuboBuildError,
  KuboConnectError,
  KuboNotFoundError,
  KuboRequestError,
  KuboStartError
} from './errors.js'
export {
  defaultCacheDir,
  type FindKuboBinaryOptions,
  findKuboBinary,
  type KuboBinary,
  type KuboBinarySource,
  printBuildProgress
} from './kubo-binary.js'
export { type KuboBuildProgress, type PinnedKubo, pinnedKubo } from './kubo-build.js'
export {
  createKuboNode,
  type KuboConfigPatch,
  type KuboNode,
  type KuboNodeInit,
  type RestartOptions,
  type StopOptions
} from './kubo-node.js'
export type { KuboStep } from './steps.js'
