/** Neither backend reached a Kubo node; `tried` says what was attempted and why it failed. */
export class NoIpfsNodeError extends Error {
  static override readonly name = 'NoIpfsNodeError'
  override readonly name = 'NoIpfsNodeError'
  readonly isRetryable = true
  /** One line per attempt, e.g. `HTTP http://127.0.0.1:5001: connection refused`. */
  readonly tried: readonly string[]

  constructor(tried: readonly string[], options?: ErrorOptions) {
    super(
      [
        `No IPFS node answered (tried: ${tried.join('; ')}).`,
        'Start Kubo with `ipfs daemon` (or `ipfs.startDaemon()`), or point the `api` option or IPFS_API',
        'at its API address (Addresses.API in its config); for the CLI backend, put `ipfs` on PATH or set KUBO_BINARY.'
      ].join(' '),
      options
    )
    this.tried = tried
  }
}

// Declared in @tk/interface: one class in both modes.
export { LocalPathError } from '@tk/interface'

// Declared in @tk/rpc, where every user of Kubo's tunnels (with or without this package) finds it.
export { StreamMountingDisabledError } from '@tk/rpc'

/** Kubo's pubsub is off (`Pubsub.Enabled`), so topics cannot be joined or published to. */
export class PubsubDisabledError extends Error {
  static override readonly name = 'PubsubDisabledError'
  override readonly name = 'PubsubDisabledError'
  readonly isRetryable = false

  constructor(options?: ErrorOptions) {
    super(
      'Kubo has pubsub turned off. Run `ipfs config --json Pubsub.Enabled true` and restart the daemon ' +
        '(`ipfs.startDaemon()` turns it on for daemons it starts).',
      options
    )
  }
}

/** Turns Kubo's "pubsub not enabled" refusal (whose advice names a deprecated flag) into {@link PubsubDisabledError}. */
export function mapPubsubDisabled(error: unknown): unknown {
  return error instanceof Error && /pubsub feature not enabled/i.test(error.message)
    ? new PubsubDisabledError({ cause: error })
    : error
}

/** Embedded mode was chosen (`mode: 'embedded'`, `TK_MODE=embedded`), but @tk/embedded is not installed. */
export class EmbeddedNotInstalledError extends Error {
  static override readonly name = 'EmbeddedNotInstalledError'
  override readonly name = 'EmbeddedNotInstalledError'
  readonly isRetryable = false
  /** The package that could not be loaded. */
  readonly packageName: string

  constructor(packageName: string, chosenBy: string, options?: ErrorOptions) {
    super(
      `Embedded mode (chosen by ${chosenBy}) needs ${packageName}, which is not installed: run \`npm i ${packageName}\`, ` +
        "or choose mode 'kubo' (TK_MODE=kubo) to use a Kubo daemon instead.",
      options
    )
    this.packageName = packageName
  }
}
