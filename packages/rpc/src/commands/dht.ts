import { entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkCid, checkPeerId } from '../validate.js'
import {
  checkRoutingKey,
  checkValue,
  peerFromEvents,
  type RawRoutingEvent,
  type RoutingEvent,
  type RoutingFindProvidersOptions,
  type RoutingProvideOptions,
  type RoutingPutOptions,
  type RoutingVerboseOptions,
  toRoutingEvent,
  valueFromEvents
} from './routing.js'

/**
 * `dht/*`: the DHT's own commands, all deprecated in Kubo. Only `query` still works; the others
 * were moved to `routing/*` and Kubo (0.43) answers them with "removed, use 'ipfs routing' instead".
 * They are kept, with their old arguments, for daemons that still serve them.
 */
export function createDhtCommands(invoker: Invoker) {
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
     * Walks the DHT towards a peer id and yields a `final-peer` event (with `id`) for each of the
     * closest peers found; a failed query ends with a `query-error` event and a `KuboRpcError`.
     * @deprecated Deprecated in Kubo, with no replacement yet.
     */
    query: (peerId: string, options: RoutingVerboseOptions = {}): AsyncGenerator<RoutingEvent> =>
      events('dht/query', options, [checkPeerId(peerId)]),

    /** @deprecated Removed from Kubo; use `routing.findprovs`. */
    findprovs: (cid: string, options: RoutingFindProvidersOptions = {}): AsyncGenerator<RoutingEvent> =>
      events('dht/findprovs', options, [checkCid(cid)]),

    /** @deprecated Removed from Kubo; use `routing.findpeer`. */
    findpeer: (peerId: string, options: RoutingVerboseOptions = {}): AsyncGenerator<RoutingEvent> =>
      events('dht/findpeer', options, [checkPeerId(peerId)]),

    /** @deprecated Removed from Kubo; use `routing.get`. */
    get: async (key: string, options: CallOptions = {}): Promise<Uint8Array> =>
      await valueFromEvents(
        invoker.ndjson<RawRoutingEvent>('dht/get', options, { args: [checkRoutingKey(key)] }),
        'dht/get'
      ),

    /** @deprecated Removed from Kubo; use `routing.put`. */
    put: async (key: string, value: Uint8Array | string, options: RoutingPutOptions = {}): Promise<string> =>
      await peerFromEvents(
        invoker.ndjson<RawRoutingEvent>('dht/put', options, {
          args: [checkRoutingKey(key)],
          body: entriesFromInput(checkValue(value))
        })
      ),

    /** @deprecated Removed from Kubo; use `provide.once`. */
    provide: async (cids: string | readonly string[], options: RoutingProvideOptions = {}): Promise<void> => {
      const all = typeof cids === 'string' ? [cids] : [...cids]
      if (all.length === 0) throw new InvalidArgumentError('cids', 'name at least one CID to provide')
      for (const cid of all) checkCid(cid, 'cids')
      await invoker.none('dht/provide', options, { args: all })
    }
  }
}
