/** Oldest Kubo we accept from `KUBO_BINARY` or PATH: 0.40 added `p2p listen --foreground` and `Pubsub.Enabled`. */
export const MIN_KUBO_VERSION = '0.40.0'

/** First Kubo version we refuse from PATH: a new major may change the RPC under us. */
export const MAX_KUBO_VERSION_EXCLUSIVE = '1.0.0'

/** How long a daemon may take to print "Daemon is ready" (ms); a cold start on 2 busy cores takes a few seconds. */
export const DEFAULT_START_TIMEOUT = 60_000

/** How long `connect()` may take to dial and see both sides' swarm and LAN DHT take the other in (ms). */
export const DEFAULT_CONNECT_TIMEOUT = 30_000

/**
 * How often `connect()` asks both nodes whether they list each other, in `swarm peers` and the LAN
 * DHT table (ms): Kubo announces neither over its RPC, and each ask is a cheap local call.
 */
export const CONNECT_POLL_INTERVAL = 50

/** How long `stop()` waits for `ipfs shutdown` before signalling the process group (ms). */
export const DEFAULT_SHUTDOWN_GRACE = 10_000

/** How long to wait after SIGTERM before SIGKILL (ms). */
export const DEFAULT_KILL_GRACE = 3_000

/** How long a Kubo build may take (ms): the first build downloads ~270 modules and compiles for minutes. */
export const DEFAULT_BUILD_TIMEOUT = 45 * 60_000

/**
 * How often a process waiting for another's Kubo build looks whether that builder still lives (ms);
 * the lock's release wakes the waiter at once (a folder watch), so this only bounds noticing a death.
 */
export const BUILD_LOCK_POLL_INTERVAL = 5_000

/** Name prefix of the temp folders that hold disposable nodes; the stale-node sweep looks for it. */
export const NODE_DIR_PREFIX = 'tk-kubo-'

/** How long an HTTP call from the testkit to a node may take (ms). */
export const DEFAULT_RPC_TIMEOUT = 30_000

/** How much of a daemon's stderr to keep for error reports (bytes). */
export const STDERR_TAIL_BYTES = 16 * 1024

/** A build lock with no owner recorded this long after it was made belongs to a builder that died (ms). */
export const STALE_OWNERLESS_LOCK_AGE = 60_000
