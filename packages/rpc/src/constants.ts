/** Kubo's default API address, used when nothing else names one. */
export const DEFAULT_API_MULTIADDR = '/ip4/127.0.0.1/tcp/5001'

/**
 * How long a call may go without progress — no response headers yet, or no new bytes — before it
 * fails (ms). Progress, not total time: a 10 GiB `cat` that keeps moving is never cut off.
 */
export const DEFAULT_IDLE_TIMEOUT = 120_000

/** Keep-alive connections per daemon: enough for parallel calls, small enough for Kubo's defaults. */
export const DEFAULT_CONNECTIONS = 32

/** How long an idle keep-alive connection is kept (ms); Kubo's server keeps them longer. */
export const KEEP_ALIVE_TIMEOUT = 30_000

/** How often a pubsub publish is retried when Kubo reports its "validation ignored" race. */
export const PUBSUB_PUBLISH_RETRIES = 5

/** How long close() waits for requests in flight before cutting them off (ms). */
export const CLOSE_GRACE = 2_000

/**
 * Deadline for a call the client makes on its own behalf (the `p2p ls` that describes a new tunnel,
 * the clean-up `p2p close` after one) in ms: these are quick local bookkeeping calls, so a daemon
 * that has not answered in this time is stuck, and the caller must hear about it rather than wait.
 */
export const INTERNAL_CALL_TIMEOUT = 10_000

/**
 * How many ports a port-0 `p2p forward` tries when another program takes the port we chose before
 * Kubo binds it: each attempt picks a port the OS just called free, so several misses in a row
 * mean something else is wrong.
 */
export const FORWARD_PORT_ATTEMPTS = 8
