import { formatSteps, type KuboStep } from './steps.js'

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

/**
 * `ipfs init` or `ipfs daemon` failed or was too slow; the message says how long each step took
 * (`sweep`, `binary`, `init`, `config`, `start` until "Daemon is ready", `ready` reading its
 * addresses) and holds the end of Kubo's stderr.
 */
export class KuboStartError extends Error {
  static override readonly name = 'KuboStartError'
  override readonly name = 'KuboStartError'
  /** What Kubo wrote to stderr before it failed (its last 16 KiB). */
  readonly stderr: string
  /** The steps of the start and how long each took; the last one is where it failed. */
  readonly steps: readonly KuboStep[]

  constructor(message: string, stderr: string, options?: ErrorOptions & { steps?: readonly KuboStep[] }) {
    const steps = options?.steps ?? []
    const timed = steps.length === 0 ? message : `${message} (${formatSteps(steps)})`
    super(stderr.trim() === '' ? timed : `${timed}\n--- kubo stderr ---\n${stderr.trim()}`, options)
    this.stderr = stderr
    this.steps = steps
  }
}

/**
 * `connect(a, b)` failed or timed out; the message says which step (`dial`, `peers`: both list
 * each other, `routing`: both LAN DHT routing tables hold the other) and how long each took.
 */
export class KuboConnectError extends Error {
  static override readonly name = 'KuboConnectError'
  override readonly name = 'KuboConnectError'
  /** The steps of the connect and how long each took; the last one is where it failed. */
  readonly steps: readonly KuboStep[]

  constructor(message: string, options: ErrorOptions & { steps: readonly KuboStep[] }) {
    super(`${message} (${formatSteps(options.steps)})`, options)
    this.steps = options.steps
  }
}

/** An HTTP call from the testkit to a node's RPC API failed. */
export class KuboRequestError extends Error {
  static override readonly name = 'KuboRequestError'
  override readonly name = 'KuboRequestError'
}
