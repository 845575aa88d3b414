/** The embedded node could not start (a port in use, a repo that cannot be opened, …); `cause` says why. */
export class EmbeddedStartError extends Error {
  static override readonly name = 'EmbeddedStartError'
  override readonly name = 'EmbeddedStartError'
  readonly isRetryable = false

  constructor(problem: string, options?: ErrorOptions) {
    super(`The embedded IPFS node did not start: ${problem}`, options)
  }
}

// Declared in @tk/interface: one class in both modes.
export { LocalPathError } from '@tk/interface'

/** Another running node (in this process or another) has the repo open; two nodes on one repo would share a peer id and corrupt its stores. */
export class RepoLockedError extends Error {
  static override readonly name = 'RepoLockedError'
  override readonly name = 'RepoLockedError'
  readonly isRetryable = true
  /** The repo directory. */
  readonly repo: string
  /** The process that holds it. */
  readonly pid: number

  constructor(repo: string, pid: number, options?: ErrorOptions) {
    super(
      `The repo ${repo} is in use by a running node (process ${pid}); close that node first, or give this one another repo`,
      options
    )
    this.repo = repo
    this.pid = pid
  }
}

/** No peer the node could ask has a (valid) record for the IPNS name: it was never published, or its record expired. */
export class IpnsNameNotFoundError extends Error {
  static override readonly name = 'IpnsNameNotFoundError'
  override readonly name = 'IpnsNameNotFoundError'
  readonly isRetryable = true
  /** The IPNS name (k51…). */
  readonly ipnsName: string

  constructor(ipnsName: string, options?: ErrorOptions) {
    super(
      `No record was found for the IPNS name ${ipnsName}; check the name, or connect to the peer that publishes it (or to peers near it in the DHT) and retry`,
      options
    )
    this.ipnsName = ipnsName
  }
}
