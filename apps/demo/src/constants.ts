/** Big enough for the progress bar to be seen moving, small enough for the tour to take a minute on 2 cores. */
export const DEFAULT_FILE_SIZE_MIB = 32
/** The tour writes the file to a temp folder; more than this is a typo, not a demo. */
export const MAX_FILE_SIZE_MIB = 4096

/** The listener name `receive` and `send` agree on when neither is told another. */
export const DEFAULT_LISTENER_NAME = 'inbox'

/**
 * A transmission listener takes one kind (data or files), so `receive --name inbox` opens two:
 * text on `/x/inbox` and files on `/x/inbox-files`. `send` picks the one that fits.
 */
export function fileListenerName(listenerName: string): string {
  return `${listenerName}-files`
}

/** How long one step of the tour may take before it is reported as failed (ms). */
export const STEP_TIMEOUT = 60_000
/**
 * Starting the nodes: on a first run, Kubo is built from source before (a few minutes, outside this
 * limit); starting two daemons takes seconds, or tens of seconds on a busy 2-core machine (ms).
 */
export const NODE_START_TIMEOUT = 90_000
/** IPNS against a daemon on the public network: a publish walks the DHT, which takes tens of seconds (ms). */
export const IPNS_STEP_TIMEOUT = 180_000
/** The file transfer: 32 MiB take a second or two, but a large --size on a slow disk takes longer (ms). */
export const FILE_STEP_TIMEOUT = 180_000
/** How long to wait for one message, reply or file to arrive once it was sent (ms). */
export const ARRIVAL_TIMEOUT = 15_000
/** How long `chat` waits for someone to join before it publishes piped lines anyway (ms). */
export const CHAT_PEER_WAIT = 10_000
/** How often to look again while waiting for something in a Kubo node to change (ms). */
export const POLL_INTERVAL = 100
