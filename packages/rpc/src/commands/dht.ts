import type { Invoker } from '../invoker.js'
import { checkPeerId } from '../validate.js'
import {
  createRoutingLookups,
  type RawRoutingEvent,
  type RoutingEvent,
  type RoutingVerboseOptions,
  toRoutingEvent
} from './routing.js'

async function* queryEvents(
  invoker: Invoker,
  peerId: string,
  options: RoutingVerboseOptions
): AsyncGenerator<RoutingEvent> {
  for await (const raw of invoker.ndjson<RawRoutingEvent>('dht/query', options, { args: [peerId] }))
    yield toRoutingEvent(raw)
}

/**
 * `dht/*`: the DHT's own commands, all deprecated in Kubo. Only `query` still works; the others
 * (`findprovs`, `findpeer`, `get`, `put`, `provide`) were moved to `routing/*` and Kubo (0.43)
 * answers them with "removed, use 'ipfs routing' instead". They are kept, with the same arguments
 * and results as their `routing` counterparts, for daemons that still serve them.
 */
export function createDhtCommands(invoker: Invoker) {
  return {
    /**
     * Walks the DHT towards a peer id and yields a `final-peer` event (with `id`) for each of the
     * closest peers found; a failed query ends with a `query-error` event and a `KuboRpcError`.
     * @deprecated Deprecated in Kubo, with no replacement yet.
     */
    query: (peerId: string, options: RoutingVerboseOptions = {}): AsyncGenerator<RoutingEvent> =>
      queryEvents(invoker, checkPeerId(peerId), options),
    ...createRoutingLookups(invoker, 'dht')
  }
}
