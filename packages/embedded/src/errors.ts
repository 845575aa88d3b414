/** The embedded node could not start (a port in use, a repo that cannot be opened, …); `cause` says why. */
export class EmbeddedStartError extends Error {
  static override readonly name = 'EmbeddedStartError'
  override readonly name = 'EmbeddedStartError'
  readonly isRetryable = false

  constructor(problem: string, options?: ErrorOptions) {
    super(`The embedded IPFS node did not start: ${problem}`, options)
  }
}

/** A local file or directory given to `content.publish` (or a download destination) cannot be used. */
export class LocalPathError extends Error {
  static override readonly name = 'LocalPathError'
  override readonly name = 'LocalPathError'
  readonly isRetryable = false
  /** The path at fault. */
  readonly path: string

  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(`${path}: ${problem}`, options)
    this.path = path
  }
}
