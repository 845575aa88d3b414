/**
 * How long a call may go without progress — no output yet, or no new bytes either way — before
 * the process is killed (ms). The same as @tk/rpc's HTTP transport, so both fail alike.
 */
export const DEFAULT_IDLE_TIMEOUT = 120_000

/** @deprecated The old name of {@link DEFAULT_IDLE_TIMEOUT}. */
export const DEFAULT_TIMEOUT = DEFAULT_IDLE_TIMEOUT

/** How long a process gets to exit after SIGTERM before SIGKILL (ms); `ipfs` cancels its request on SIGTERM. */
export const KILL_GRACE = 2_000

/** Prefix of the temp folders bodies and output files go through; each is removed when its call ends. */
export const TEMP_DIR_PREFIX = 'tk-cli-'

/** How much of a process's stderr is kept for error messages (bytes); Kubo's errors are one line. */
export const STDERR_LIMIT = 64 * 1024

/** What `target` says for this transport, in messages. */
export const CLI_TARGET = 'ipfs (CLI)'

/** Read size for an output file read after the process exited (bytes): large reads of a local file cost little. */
export const OUTPUT_FILE_CHUNK = 256 * 1024

/** How often `pubsub ls` is asked whether Kubo has registered a new subscription (ms): a local call, cheap. */
export const PUBSUB_LIVE_POLL_INTERVAL = 50

/**
 * When the topic was subscribed on the daemon already (by someone else), `pubsub ls` cannot tell
 * when ours is registered: the time `ipfs pubsub sub` takes to start and ask (ms).
 */
export const PUBSUB_SUBSCRIBE_GRACE = 1_000
