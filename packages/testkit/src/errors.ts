/** No usable Kubo binary was found, and none could be built. */
export class KuboNotFoundError extends Error {
  static override readonly name = 'KuboNotFoundError'
  override readonly name = 'KuboNotFoundError'
}

/** A binary named by `KUBO_BINARY` (or found in the cache) does not run or is the wrong version. */
export class KuboBinaryError extends Error {
  static override readonly name = 'KuboBinaryError'
  override readonly name = 'KuboBinaryError'
}

/** Building Kubo from its Go module failed; the message holds the end of Go's output. */
export class KuboBuildError extends Error {
  static override readonly name = 'KuboBuildError'
  override readonly name = 'KuboBuildError'
}

/** `ipfs init` or `ipfs daemon` failed; the message holds the end of Kubo's stderr. */
export class KuboStartError extends Error {
  static override readonly name = 'KuboStartError'
  override readonly name = 'KuboStartError'
  /** What Kubo wrote to stderr before it failed (its last 16 KiB). */
  readonly stderr: string

  constructor(message: string, stderr: string, options?: ErrorOptions) {
    super(stderr.trim() === '' ? message : `${message}\n--- kubo stderr ---\n${stderr.trim()}`, options)
    this.stderr = stderr
  }
}

/** An HTTP call from the testkit to a node's RPC API failed. */
export class KuboRequestError extends Error {
  static override readonly name = 'KuboRequestError'
  override readonly name = 'KuboRequestError'
}
