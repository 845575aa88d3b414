import type { KuboClient } from '@tk/rpc'
import { ContactUnreachableError, type DialAttempt, type RoutingOutcome } from './errors.js'
import { normalizeAddress } from './validate.js'

/** How a connection came about. */
export type ConnectVia = 'already-connected' | 'remembered-address' | 'routing'

/** What `ensureConnected` did. */
export interface ConnectResult {
  peerId: string
  via: ConnectVia
  /** The remote address of the connection, as `swarm peers` lists it (without `/p2p/<peerId>`). */
  address: string
  /** How long it took (ms). */
  ms: number
  /** The remembered addresses dialled, in the order the dials started (empty when none were needed). */
  attempts: readonly DialAttempt[]
}

export interface ConnectPlan {
  client: KuboClient
  peerId: string
  contactName: string | undefined
  /** Remembered addresses, best first, without `/p2p/`. */
  addresses: readonly string[]
  dialConcurrency: number
  dialTimeout: number
  timeout: number
  signal: AbortSignal | undefined
  /** Records that a connection used `address` (a contact's success count and last-seen). */
  recordSuccess: (address: string) => Promise<void>
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}

/**
 * Kubo's own words when it gave some, else the error's message, on one line (Kubo lists each
 * failed dial on a line of its own) and without the `connect <peerId> failure:` it repeats.
 */
function describeError(error: unknown, dialTimeout?: number): string {
  if ((error as Error | undefined)?.name === 'RpcTimeoutError' && dialTimeout != null) {
    return `no answer within ${dialTimeout} ms`
  }
  const kuboMessage = (error as { kuboMessage?: unknown } | undefined)?.kuboMessage
  const text =
    typeof kuboMessage === 'string' && kuboMessage !== ''
      ? kuboMessage
      : error instanceof Error
        ? error.message
        : String(error)
  return text
    .replace(/^connect \S+ failure: /, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim()
}

function canonical(address: string, peerId: string): string {
  try {
    return normalizeAddress(address, peerId, 'address')
  } catch {
    // Kubo printed something our multiaddr table does not know; compare it as it is.
    return address
  }
}

/**
 * The address of this node's connection to `peerId`, or undefined when there is none. With several
 * connections, one we dialled (outbound) to one of `preferred` wins: that is the address that worked.
 */
async function connectionAddress(
  client: KuboClient,
  peerId: string,
  preferred: readonly string[],
  signal: AbortSignal
): Promise<string | undefined> {
  const connections = (await client.swarm.peers({ direction: true, signal }))
    .filter(connection => connection.peerId === peerId)
    .map(connection => ({
      address: canonical(connection.address, peerId),
      outbound: connection.direction === 'outbound'
    }))
  const score = (connection: { address: string; outbound: boolean }): number =>
    (connection.outbound ? 2 : 0) + (preferred.includes(connection.address) ? 1 : 0)
  return connections.sort((a, b) => score(b) - score(a))[0]?.address
}

/**
 * Dials the addresses, `plan.dialConcurrency` at a time, best first; the first to connect wins and the
 * dials still running are aborted. Returns the winner, or undefined when every dial failed.
 */
async function dialFirst(
  plan: ConnectPlan,
  signal: AbortSignal,
  attempts: DialAttempt[]
): Promise<string | undefined> {
  const race = new AbortController()
  const onAbort = (): void => race.abort(signal.reason)
  if (signal.aborted) return undefined
  signal.addEventListener('abort', onAbort, { once: true })
  let winner: string | undefined
  let next = 0
  const worker = async (): Promise<void> => {
    while (winner == null && !race.signal.aborted && next < plan.addresses.length) {
      const address = plan.addresses[next++] as string
      const attempt: DialAttempt = { address, outcome: 'failed', ms: 0 }
      attempts.push(attempt)
      const began = performance.now()
      try {
        await plan.client.swarm.connect(`${address}/p2p/${plan.peerId}`, {
          signal: race.signal,
          timeout: plan.dialTimeout
        })
        attempt.outcome = 'connected'
        if (winner == null) {
          winner = address
          race.abort(new Error('another address connected first'))
        }
      } catch (error) {
        if (winner != null) attempt.outcome = 'cancelled'
        else attempt.error = describeError(error, plan.dialTimeout)
      } finally {
        attempt.ms = round(performance.now() - began)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(plan.dialConcurrency, plan.addresses.length) }, worker))
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  return winner
}

/** Asks the routing system (`routing findpeer`) where the peer is. */
async function lookUp(client: KuboClient, peerId: string, signal: AbortSignal): Promise<RoutingOutcome> {
  const addresses = new Set<string>()
  let found = false
  try {
    for await (const event of client.routing.findpeer(peerId, { signal })) {
      if (event.type !== 'final-peer') continue
      for (const response of event.responses) {
        if (response.id !== peerId) continue
        found = true
        for (const address of response.addresses) addresses.add(canonical(address, peerId))
      }
    }
    return found
      ? { tried: true, found, addresses: [...addresses] }
      : { tried: true, found, addresses: [], error: 'the routing system does not know this peer' }
  } catch (error) {
    if (signal.aborted) throw error
    // Kubo can end a lookup with an error after it has answered; the answer stands.
    if (found) return { tried: true, found, addresses: [...addresses] }
    return { tried: true, found: false, addresses: [], error: describeError(error) }
  }
}

const VANISHED = 'Kubo reported a connection, but swarm peers did not list it'

/**
 * Connects this node to a peer: nothing to do when connected; else the remembered addresses, then
 * `routing findpeer`. Records the address of the connection on success.
 */
export async function connectToPeer(plan: ConnectPlan): Promise<ConnectResult> {
  const started = performance.now()
  const attempts: DialAttempt[] = []
  let routing: RoutingOutcome = { tried: false, found: false, addresses: [] }
  const deadline = AbortSignal.timeout(plan.timeout)
  const signal = plan.signal == null ? deadline : AbortSignal.any([plan.signal, deadline])
  const { client, peerId } = plan
  const result = (via: ConnectVia, address: string): ConnectResult => ({
    peerId,
    via,
    address,
    ms: round(performance.now() - started),
    attempts
  })
  const unreachable = (timedOut: boolean, cause?: unknown): ContactUnreachableError =>
    new ContactUnreachableError(
      { peerId, contactName: plan.contactName, attempts, routing, timedOut, timeout: plan.timeout },
      cause == null ? undefined : { cause }
    )
  try {
    const current = await connectionAddress(client, peerId, [], signal)
    if (current != null) return result('already-connected', current)

    const dialled = await dialFirst(plan, signal, attempts)
    if (dialled != null) {
      // Kubo dials every address it knows for the peer, not only the one given: ask which one it used.
      const used = await connectionAddress(client, peerId, [dialled], signal)
      if (used != null) {
        await plan.recordSuccess(used)
        return result('remembered-address', used)
      }
      const winner = attempts.find(attempt => attempt.address === dialled)
      if (winner != null) Object.assign(winner, { outcome: 'failed', error: VANISHED })
    }

    signal.throwIfAborted()
    routing = await lookUp(client, peerId, signal)
    if (routing.found) {
      const targets =
        routing.addresses.length > 0
          ? routing.addresses.map(address => `${address}/p2p/${peerId}`)
          : [`/p2p/${peerId}`]
      try {
        await client.swarm.connect(targets, { signal })
        const used = await connectionAddress(client, peerId, routing.addresses, signal)
        if (used != null) {
          await plan.recordSuccess(used)
          return result('routing', used)
        }
        routing = { ...routing, error: VANISHED }
      } catch (error) {
        if (signal.aborted) throw error
        routing = { ...routing, error: describeError(error) }
      }
    }
    throw unreachable(false)
  } catch (error) {
    if (error instanceof ContactUnreachableError) throw error
    // The caller's abort wins over a deadline that passed while it was being handled.
    if (plan.signal?.aborted === true) throw plan.signal.reason
    if (deadline.aborted) throw unreachable(true, error)
    throw error
  }
}
