/**
 * Errors that only the CLI transport has. Everything a command can fail with is one of @tk/rpc's
 * classes (`KuboRpcError`, `DaemonUnreachableError`, `RpcTimeoutError`, `AbortError`,
 * `InvalidArgumentError`), whichever transport ran it.
 */

/**
 * No `ipfs` executable could be found to run commands with. The lookup (the `binary` option, then
 * `KUBO_BINARY`, then `PATH`) is @tk/kubo-process's, shared with @tk/api and @tk/testkit.
 */
export { KuboBinaryNotFoundError } from '@tk/kubo-process'
