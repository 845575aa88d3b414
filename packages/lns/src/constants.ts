/** The version written in `contacts.json`; a file with a higher one comes from a newer @tk/lns and is left alone. */
export const STORE_FORMAT_VERSION = 1

/** The environment variable that names the contacts file when no `path` is given. */
export const CONTACTS_PATH_ENV = 'TK_CONTACTS'

/** The folder under the user's data dir shared by every tk package. */
export const DATA_DIR_NAME = 'tk'

/** The file name of the store inside the data dir. */
export const STORE_FILE_NAME = 'contacts.json'

/**
 * How long a store operation waits for another writer's lock (ms). A mutation holds the lock for
 * one read and one fsynced write of a small file, a few ms, so 10 s means something is wrong.
 */
export const DEFAULT_LOCK_TIMEOUT = 10_000

/** First pause between attempts to take a busy lock (ms); doubled up to the maximum. Short: locks are held briefly. */
export const LOCK_RETRY_MIN_DELAY = 2

/** Longest pause between attempts to take a busy lock (ms). */
export const LOCK_RETRY_MAX_DELAY = 25

/**
 * A lock file still without an owner after this long (ms) belongs to a process that died between
 * creating it and writing its pid into it: the write follows the create within microseconds.
 */
export const OWNERLESS_LOCK_GRACE = 2_000

/**
 * A lock owned by a process on another host (a shared or network folder) is stale after this long
 * (ms): its pid cannot be checked from here, and no mutation holds the lock for more than a moment.
 */
export const FOREIGN_LOCK_STALE_AGE = 60_000

/** Longest contact name, in Unicode code points: a label for a person or a machine, not a document. */
export const MAX_NAME_LENGTH = 64

/**
 * Most addresses kept per contact; the worst ranked go first. A peer that moves often (mobile,
 * changing NAT ports) would otherwise grow its list without bound through the monitor.
 */
export const MAX_ADDRESSES_PER_CONTACT = 32

/** How many remembered addresses are dialled at the same time; the first that answers wins. */
export const DEFAULT_DIAL_CONCURRENCY = 4

/** How long one dial of one remembered address may take (ms); a dead address rarely answers later than this. */
export const DEFAULT_DIAL_TIMEOUT = 10_000

/** How long `ensureConnected` may take in all (ms): dials, the routing lookup and its dial. */
export const DEFAULT_CONNECT_TIMEOUT = 30_000

/** Pause between two rounds of a contact monitor (ms): keeps connections warm without busy dialling. */
export const DEFAULT_MONITOR_INTERVAL = 30_000

/**
 * A lock on this host whose holder is alive but cannot be told apart from a process that reused
 * its pid (no start time recorded, or none readable here: not Linux) is stale after this long
 * without a refresh (ms). A holder refreshes its lock every {@link LOCK_HEARTBEAT_INTERVAL}.
 */
export const LIVE_LOCK_STALE_AGE = 60_000

/** How often a holder touches its lock file (ms): a few times per {@link LIVE_LOCK_STALE_AGE}. */
export const LOCK_HEARTBEAT_INTERVAL = 10_000
