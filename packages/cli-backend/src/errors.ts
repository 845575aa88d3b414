/**
 * Errors that only the CLI transport has. Everything a command can fail with is one of @tk/rpc's
 * classes (`KuboRpcError`, `DaemonUnreachableError`, `RpcTimeoutError`, `AbortError`,
 * `InvalidArgumentError`), whichever transport ran it.
 */

/** No `ipfs` executable could be found to run commands with. */
export class KuboBinaryNotFoundError extends Error {
  static override readonly name = 'KuboBinaryNotFoundError'
  override readonly name = 'KuboBinaryNotFoundError'
  readonly isRetryable = false
  /** What was looked at, e.g. `KUBO_BINARY=/opt/ipfs (not executable)`, `ipfs on PATH`. */
  readonly tried: readonly string[]

  constructor(tried: readonly string[], options?: ErrorOptions) {
    super(
      [
        `No Kubo (ipfs) executable was found (tried: ${tried.join('; ')}).`,
        'Install Kubo (https://docs.ipfs.tech/install/command-line/) and put `ipfs` on PATH,',
        'set KUBO_BINARY to the path of an `ipfs` executable, or pass the `binary` option;',
        'in this repository `pnpm kubo` builds the pinned Kubo with Go.'
      ].join(' '),
      options
    )
    this.tried = tried
  }
}
