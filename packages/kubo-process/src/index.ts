/**
 * @packageDocumentation
 *
 * The process-level steps every tk package that runs Kubo itself shares: finding the `ipfs`
 * executable (the `binary` option, then `KUBO_BINARY`, then `PATH`) and knowing when an
 * `ipfs daemon` it started is ready. @tk/cli-backend, @tk/api and @tk/testkit build on it.
 *
 * @example
 *
 * ```ts
 * import { spawn } from 'node:child_process'
 * import { findIpfsBinary, waitForDaemonReady } from '@tk/kubo-process'
 *
 * const ipfs = findIpfsBinary(undefined) // KUBO_BINARY, then `ipfs` on PATH
 * const daemon = spawn(ipfs, ['daemon'], { stdio: ['ignore', 'pipe', 'inherit'] })
 * const banner = await waitForDaemonReady(daemon, { signal: AbortSignal.timeout(60_000) })
 * console.log(banner) // …RPC API server listening on /ip4/127.0.0.1/tcp/5001 … Daemon is ready
 * daemon.kill()
 * ```
 */

export { DAEMON_READY_LINE } from './constants.js'
export { type WaitForDaemonReadyOptions, waitForDaemonReady } from './daemon-ready.js'
export { DaemonNotReadyError, type DaemonNotReadyReason, KuboBinaryNotFoundError } from './errors.js'
export {
  findIpfsBinary,
  type IpfsBinaryCandidate,
  type IpfsBinarySource,
  type IpfsCandidatesOptions,
  ipfsCandidates,
  isExecutableFile
} from './ipfs-binary.js'
