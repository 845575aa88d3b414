/** No `ipfs` executable could be found to run. */
export class KuboBinaryNotFoundError extends Error {
  static override readonly name = 'KuboBinaryNotFoundError'
  override readonly name = 'KuboBinaryNotFoundError'
  readonly isRetryable = false
  /** What was looked at, e.g. `KUBO_BINARY=/opt/ipfs (not an executable file)`, `ipfs on PATH (none)`. */
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

/** Why an `ipfs daemon` was not ready: it exited, it could not be started, or the wait was aborted. */
export type DaemonNotReadyReason = 'exited' | 'spawn-failed' | 'aborted'

/**
 * An `ipfs daemon` did not print "Daemon is ready": it exited first, could not be started (the
 * spawn error is the `cause`), or the wait was aborted (the signal's reason is the `cause`; the
 * process is left running for the caller to stop). Callers turn it into their own error, with the
 * daemon's stderr they keep.
 */
export class DaemonNotReadyError extends Error {
  static override readonly name = 'DaemonNotReadyError'
  override readonly name = 'DaemonNotReadyError'
  readonly reason: DaemonNotReadyReason
  /** The exit code when it exited; `null` when a signal ended it or it is still running. */
  readonly exitCode: number | null
  /** The signal that ended it, if one did. */
  readonly exitSignal: NodeJS.Signals | null
  /** What it printed on stdout before (its last 16 KiB): how far its start got. */
  readonly stdout: string

  constructor(
    reason: DaemonNotReadyReason,
    init: { stdout: string; exitCode?: number | null; exitSignal?: NodeJS.Signals | null },
    options?: ErrorOptions
  ) {
    const exitCode = init.exitCode ?? null
    const exitSignal = init.exitSignal ?? null
    super(
      reason === 'exited'
        ? `\`ipfs daemon\` exited before it was ready (${exitSignal ?? `exit code ${exitCode}`})`
        : reason === 'spawn-failed'
          ? `\`ipfs daemon\` could not be started: ${(options?.cause as Error | undefined)?.message ?? 'unknown error'}`
          : '`ipfs daemon` was not ready when the wait was aborted',
      options
    )
    this.reason = reason
    this.exitCode = exitCode
    this.exitSignal = exitSignal
    this.stdout = init.stdout
  }

  /** The last line the daemon printed on stdout, or undefined when it printed nothing. */
  get lastLine(): string | undefined {
    const last = this.stdout.trim().split('\n').at(-1)?.trim() ?? ''
    return last === '' ? undefined : last
  }
}
