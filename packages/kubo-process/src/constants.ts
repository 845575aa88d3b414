/** What `ipfs daemon` prints on stdout once its RPC API and gateway listen (Kubo's own words since 0.4). */
export const DAEMON_READY_LINE = 'Daemon is ready'

/** How much of a starting daemon's stdout is kept (bytes): its banner is about 1 KiB; a flood must not grow without bound. */
export const DAEMON_STDOUT_TAIL = 16 * 1024

/** The variable that names the `ipfs` executable to use; an empty one counts as unset. */
export const KUBO_BINARY_VARIABLE = 'KUBO_BINARY'
