/**
 * What to do about errors whose own message does not say: Kubo's refusals when a feature is off
 * come through the packages as they are, and Kubo's pubsub advice names a flag that is deprecated.
 */
const ADVICE: ReadonlyArray<readonly [pattern: RegExp, advice: string]> = [
  [
    /stream mounting not enabled/i,
    'Turn stream mounting on with `ipfs config --json Experimental.Libp2pStreamMounting true`, then try again.'
  ],
  [
    /pubsub feature not enabled/i,
    'Turn pubsub on with `ipfs config --json Pubsub.Enabled true`, then restart the daemon.'
  ]
]

/** A line of advice for `error`, or undefined when its message says enough. */
export function adviceFor(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : String(error)
  return ADVICE.find(([pattern]) => pattern.test(message))?.[1]
}
