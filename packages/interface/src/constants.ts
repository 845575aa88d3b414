/**
 * Bytes of messages a subscription keeps for a consumer that is behind, unless `maxBufferedBytes`
 * says otherwise: 16 of the largest messages gossipsub passes by default (1 MiB), a burst worth
 * riding out, yet a bound that a fast topic cannot push past.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024

/**
 * What a buffered message counts for besides its data (its sender, seqno, topics and the objects
 * holding them), in bytes; it also makes empty messages count, so the number of messages is bounded.
 */
export const PUBSUB_MESSAGE_OVERHEAD = 256
