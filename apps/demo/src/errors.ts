/** The demo looked at what arrived and it was not what was sent. */
export class CheckFailedError extends Error {
  static override readonly name = 'CheckFailedError'
  override readonly name = 'CheckFailedError'
}

/** Something the demo waits for (a message, a file, a peer) did not happen in time. */
export class WaitTimeoutError extends Error {
  static override readonly name = 'WaitTimeoutError'
  override readonly name = 'WaitTimeoutError'
  /** How long was waited (ms). */
  readonly waited: number

  constructor(what: string, waited: number, options?: ErrorOptions) {
    super(`${what} did not happen within ${Math.round(waited / 100) / 10} s`, options)
    this.waited = waited
  }
}

/** The abort reason when the user pressed Ctrl-C. */
export class InterruptedError extends Error {
  static override readonly name = 'InterruptedError'
  override readonly name = 'InterruptedError'

  constructor(options?: ErrorOptions) {
    super('Interrupted (Ctrl-C)', options)
  }
}
