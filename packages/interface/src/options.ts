/**
 * What every call takes (the same shape as @tk/rpc's `CallOptions`, declared here so that this
 * package depends on nothing).
 */
export interface CallOptions {
  /** Aborts the call; it rejects with the signal's reason (or an `AbortError`). */
  signal?: AbortSignal
  /** A deadline for the whole call (ms). */
  timeout?: number
}

/** Which kind of node an {@link Ipfs} talks to: a separate Kubo daemon, or a node in this process. */
export type IpfsMode = 'kubo' | 'embedded'
