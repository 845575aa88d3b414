/** Listen on loopback with an OS-chosen port: reachable by local peers and tests, never exposed by surprise. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']

/** Longest wait for a call that passes no `timeout` (ms): Helia waits forever for missing blocks otherwise (ipfs/helia#376). */
export const DEFAULT_CALL_TIMEOUT = 120_000

/** How long `close()` lets libp2p and the stores shut down before giving up on a clean stop (ms). */
export const CLOSE_TIMEOUT = 10_000

/** The file in a repo that holds the node's private key (libp2p protobuf encoding), so its peer id survives restarts. */
export const IDENTITY_FILE = 'identity.key'

/** How many providers `peers.findProviders` collects unless told otherwise (as Kubo's `routing findprovs`). */
export const DEFAULT_MAX_PROVIDERS = 20

/** The chunker Kubo uses by default (`size-262144`), so that both modes give the same CIDs. */
export const DEFAULT_CHUNK_SIZE = 262_144

/** Links per node of a file's balanced DAG, as Kubo builds it (`Import.UnixFSFileMaxLinks`), so both modes give the same CIDs. */
export const DEFAULT_MAX_CHILDREN_PER_NODE = 174

/** How long a tunnel sender waits to open the stream to its peer for each new connection (ms); Kubo's is 30 s too. */
export const TUNNEL_DIAL_TIMEOUT = 30_000

/** Kubo's LAN DHT: peers on private and loopback addresses, what a machine without internet can use. */
export const LAN_DHT_PROTOCOL = '/ipfs/lan/kad/1.0.0'

/** The public Amino DHT, as Kubo's WAN DHT speaks it. */
export const WAN_DHT_PROTOCOL = '/ipfs/kad/1.0.0'

/** The file that marks a repo as in use (it holds the owning process id), as Kubo's `repo.lock` does. */
export const LOCK_FILE = 'repo.lock'

/**
 * The largest pubsub frame gossipsub peers take (go-libp2p-pubsub's and so Kubo's default, 1 MiB):
 * a message over it is dropped by the receiver without a word, so `pubsub.publish` refuses it.
 */
export const MAX_PUBSUB_FRAME_BYTES = 1_048_576

/**
 * What a signed message's frame holds besides its data and topic (sender, seqno, signature, public
 * key, field tags and lengths: about 170 bytes with an Ed25519 key), plus room for control
 * messages sent in the same frame.
 */
export const PUBSUB_FRAME_OVERHEAD = 1_024

/** How many CIDs are announced to the DHT at once: each is a DHT walk, and publishing must keep the node responsive. */
export const ANNOUNCE_CONCURRENCY = 4

/** Longest a single CID's announcement may take (ms), so a silent DHT peer cannot hold a slot for ever. */
export const ANNOUNCE_TIMEOUT = 60_000

/** First delay before announcing again what reached no DHT peer (ms): a node often publishes before its DHT has peers. */
export const ANNOUNCE_RETRY_MIN = 1_000

/** Longest delay between such retries (ms), so a node that finds DHT peers later announces within a minute. */
export const ANNOUNCE_RETRY_MAX = 60_000

/** Most CIDs waiting to be announced (about 100 bytes each); past it the rest of a huge publish is not announced. */
export const ANNOUNCE_MAX_PENDING = 100_000
