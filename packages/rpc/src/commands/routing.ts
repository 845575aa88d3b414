import { entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkCid, checkPeerId } from '../validate.js'

/**
 * What a routing (DHT) query event reports, from libp2p's `QueryEventType` (Kubo sends its number):
 * 0 `sending-query`, 1 `peer-response`, 2 `final-peer`, 3 `query-error`, 4 `provider`, 5 `value`,
 * 6 `adding-peer`, 7 `dialing-peer`.
 */
export type RoutingEventType =
  | 'sending-query'
  | 'peer-response'
  | 'final-peer'
  | 'query-error'
  | 'provider'
  | 'value'
  | 'adding-peer'
  | 'dialing-peer'
  | 'unknown'

const EVENT_TYPES: readonly RoutingEventType[] = [
  'sending-query',
  'peer-response',
  'final-peer',
  'query-error',
  'provider',
  'value',
  'adding-peer',
  'dialing-peer'
]

export interface PeerAddresses {
  id: string
  /** Multiaddrs without the `/p2p/<id>` suffix. */
  addresses: string[]
}

/** One line of a routing query's progress (Kubo's `QueryEvent`). */
export interface RoutingEvent {
  type: RoutingEventType
  /** Kubo's number for `type` (see {@link RoutingEventType}). */
  typeNumber: number
  /**
   * The peer the event is about: the one queried (`sending-query`, `dialing-peer`), the one that
   * answered (`peer-response`), or a closest peer found (`final-peer` from `dht.query`). Absent when none.
   */
  id?: string
  /**
   * Peers carried by the event: the closer peers a peer answered with (`peer-response`), the provider
   * found (`provider`), or the peer found with its addresses (`final-peer` from `findpeer`).
   */
  responses: PeerAddresses[]
  /** The error text of a `query-error`; Kubo also uses it for `value` payloads (base64). Absent when empty. */
  extra?: string
}

/** Kubo's JSON form of a `QueryEvent`. */
export interface RawRoutingEvent {
  ID?: string
  Type: number
  Responses?: Array<{ ID: string; Addrs: string[] | null }> | null
  Extra?: string
}

/** Maps Kubo's `QueryEvent` JSON to a {@link RoutingEvent}. */
export function toRoutingEvent(raw: RawRoutingEvent): RoutingEvent {
  return {
    type: EVENT_TYPES[raw.Type] ?? 'unknown',
    typeNumber: raw.Type,
    ...(raw.ID == null || raw.ID === '' ? {} : { id: raw.ID }),
    responses: list(raw.Responses).map(response => ({ id: response.ID, addresses: list(response.Addrs) })),
    ...(raw.Extra == null || raw.Extra === '' ? {} : { extra: raw.Extra })
  }
}

/** Throws unless `key` looks like a routing key: `/<namespace>/<name>`, e.g. `/ipns/k51…` or `/pk/12D3KooW…`. */
export function checkRoutingKey(key: string, argument = 'key'): string {
  if (typeof key !== 'string' || !/^\/[^/]+\/[^/]+/.test(key)) {
    throw new InvalidArgumentError(
      argument,
      `"${String(key)}" is not a routing key (expected /ipns/<name> or /pk/<peer id>)`
    )
  }
  return key
}

export function checkValue(value: Uint8Array | string, argument = 'value'): Uint8Array | string {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      argument,
      'expected a Uint8Array (e.g. an IPNS record from name.get) or a string'
    )
  }
  return value
}

export interface RoutingVerboseOptions extends CallOptions {
  /** Ask Kubo for extra information; it only changes Kubo's text output, the events are the same. */
  verbose?: boolean
}

export interface RoutingFindProvidersOptions extends RoutingVerboseOptions {
  /** Stop after this many providers; default 20. */
  numProviders?: number
}

export interface RoutingPutOptions extends CallOptions {
  /** When the node is offline, store the record locally instead of failing. */
  allowOffline?: boolean
}

export interface RoutingProvideOptions extends RoutingVerboseOptions {
  /** Also announce every block below each CID. */
  recursive?: boolean
}

/** Reads a `value` event's base64 payload (`routing/get`, `dht/get`) as bytes. */
export async function valueFromEvents(
  events: AsyncIterable<RawRoutingEvent>,
  command: string
): Promise<Uint8Array> {
  for await (const raw of events) {
    if (raw.Type === 5) return new Uint8Array(Buffer.from(raw.Extra ?? '', 'base64'))
  }
  throw new Error(`${command} finished without a value`)
}

/** The peer id a `put` reports: the owner of the key written. */
export async function peerFromEvents(events: AsyncIterable<RawRoutingEvent>): Promise<string> {
  let id = ''
  for await (const raw of events) {
    if (raw.ID != null && raw.ID !== '') id = raw.ID
  }
  return id
}

/**
 * The lookups `routing/*` and the deprecated `dht/*` share, with the same arguments and output;
 * `prefix` picks the namespace.
 */
export function createRoutingLookups(invoker: Invoker, prefix: 'routing' | 'dht') {
  async function* events(
    command: string,
    options: CallOptions,
    args: string[]
  ): AsyncGenerator<RoutingEvent> {
    for await (const raw of invoker.ndjson<RawRoutingEvent>(command, options, { args }))
      yield toRoutingEvent(raw)
  }

  return {
    /**
     * Looks up a peer's addresses. The peer found arrives as a `final-peer` event whose `responses[0]`
     * holds its id and addresses; a failed lookup ends with a `query-error` event and a `KuboRpcError`.
     */
    findpeer: (peerId: string, options: RoutingVerboseOptions = {}): AsyncGenerator<RoutingEvent> =>
      events(`${prefix}/findpeer`, options, [checkPeerId(peerId)]),

    /** Looks up peers that provide a CID: one `provider` event per provider, `responses[0]` being the provider. */
    findprovs: (cid: string, options: RoutingFindProvidersOptions = {}): AsyncGenerator<RoutingEvent> =>
      events(`${prefix}/findprovs`, options, [checkCid(cid)]),

    /** The best value the routing system knows for a key, e.g. the raw IPNS record of `/ipns/<name>`. */
    get: async (key: string, options: CallOptions = {}): Promise<Uint8Array> =>
      await valueFromEvents(
        invoker.ndjson<RawRoutingEvent>(`${prefix}/get`, options, { args: [checkRoutingKey(key)] }),
        `${prefix}/get`
      ),

    /**
     * Writes a value under a key; Kubo only accepts `/ipns/<name>` keys with a record signed by that
     * name's key. Resolves with the peer id the key belongs to.
     */
    put: async (key: string, value: Uint8Array | string, options: RoutingPutOptions = {}): Promise<string> =>
      await peerFromEvents(
        invoker.ndjson<RawRoutingEvent>(`${prefix}/put`, options, {
          args: [checkRoutingKey(key)],
          body: entriesFromInput(checkValue(value))
        })
      ),

    /**
     * Announces that this node provides the CIDs (they must be stored locally); Kubo prints nothing.
     * @deprecated Kubo moved this to `provide once`; use `provide.once`.
     */
    provide: async (cids: string | readonly string[], options: RoutingProvideOptions = {}): Promise<void> => {
      const all = typeof cids === 'string' ? [cids] : [...cids]
      if (all.length === 0) throw new InvalidArgumentError('cids', 'name at least one CID to provide')
      for (const cid of all) checkCid(cid, 'cids')
      await invoker.none(`${prefix}/provide`, options, { args: all })
    }
  }
}

/** `routing/*`: the content and peer routing system (the DHT, and HTTP routers if configured). */
export function createRoutingCommands(invoker: Invoker) {
  return {
    ...createRoutingLookups(invoker, 'routing'),

    /**
     * Starts a reprovide cycle now. Only the legacy provider (`Provide.DHT.SweepEnabled=false`) can;
     * with the default sweep provider Kubo refuses.
     */
    reprovide: async (options: CallOptions = {}): Promise<void> => {
      await invoker.none('routing/reprovide', options)
    }
  }
}
