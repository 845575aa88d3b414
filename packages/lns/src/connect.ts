import { ContactUnreachableError, type DialAttempt, type RoutingOutcome } from './errors.js'
import type { ContactsNode } from './node.js'
import { normalizeAddress } from './validate.js'

/** How a connection came about. */
export type ConnectVia = 'already-connected' | 'remembered-address' | 'routing'

/** What `ensureConnected` did. */
export interface ConnectResult {
  peerId: string
  via: ConnectVia
  /** The remote address of the connection, as the node lists it (without `/p2p/<peerId>`). */
  address: string
  /** How long it took (ms). */
  ms: number
  /** The remembered addresses dialled, in the order the dials started (empty when none were needed). */
  attempts: readonly DialAttempt[]
}

export interface ConnectPlan {
  node: ContactsNode
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

/** Kubo's own message, from the error or what caused it (@tk/api wraps some of Kubo's refusals). */
function kuboWords(error: unknown): string | undefined {
  let current = error as { kuboMessage?: unknown; cause?: unknown } | undefined
  for (let depth = 0; current != null && depth < 4; depth++) {
    if (typeof current.kuboMessage === 'string' && current.kuboMessage !== '') return current.kuboMessage
    current = current.cause as typeof current
  }
  return undefined
}

/** The names of the deadline errors of each mode: @tk/rpc's (Kubo) and @tk/interface's (embedded). */
const TIMEOUT_ERRORS = new Set(['RpcTimeoutError', 'CallTimeoutError'])

/**
 * Kubo's own words when it gave some, else the error's message, on one line (Kubo lists each
 * failed dial on a line of its own) and without the `connect <peerId> failure:` it repeats.
 */
function describeError(error: unknown, dialTimeout?: number): string {
  const name = (error as Error | undefined)?.name
  if (name != null && TIMEOUT_ERRORS.has(name) && dialTimeout != null) {
    return `no answer within ${dialTimeout} ms`
  }
  const cause = (error as Error | undefined)?.cause
  const text =
    kuboWords(error) ??
    (name === 'PeerNotFoundError'
      ? cause instanceof Error
        ? cause.message
        : 'the routing system does not know this peer'
      : error instanceof Error
        ? error.message
        : String(error))
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
  node: ContactsNode,
  peerId: string,
  preferred: readonly string[],
  signal: AbortSignal
): Promise<string | undefined> {
  const connections = (await node.peers.connections(peerId, { signal }))
    .filter(connection => connection.peerId === peerId)
    .map(connection => ({
      address: canonical(connection.address, peerId),
      outbound: connection.direction === 'outbound'
    }))
  const score = (connection: { address: string; outbound: boolean }): number =>
    (connection.outbound ? 2 : 0) + (preferred.includes(connection.address) ? 1 : 0)
  return connections.sort((a, b) => score(b) - score(a))[0]?.address
}

/** A dial the call's deadline (or the caller) stopped: the node would only say "aborted". */
const STOPPED = 'still dialling when the call ended (its timeout, or its signal)'

/** A connect that resolved, after which the node listed no connection to the peer. */
const VANISHED = 'the node reported a connection, but does not list it among its connections'

/**
 * Dials the addresses, `plan.dialConcurrency` at a time, best first; the first to connect wins and the
 * dials still running are aborted. Returns the winner, or undefined when every dial failed.
 */
async function dialFirst(
  plan: ConnectPlan,
  addresses: readonly string[],
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
    while (winner == null && !race.signal.aborted && next < addresses.length) {
      const address = addresses[next++] as string
      const attempt: DialAttempt = { address, outcome: 'failed', ms: 0 }
      attempts.push(attempt)
      const began = performance.now()
      try {
        await plan.node.peers.connect(`${address}/p2p/${plan.peerId}`, {
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
        else if (signal.aborted) attempt.error = STOPPED
        else attempt.error = describeError(error, plan.dialTimeout)
      } finally {
        attempt.ms = round(performance.now() - began)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(plan.dialConcurrency, addresses.length) }, worker))
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  return winner
}

/** Asks the routing system (the node's `peers.find`: Kubo's `routing findpeer`, an embedded node's DHT) where the peer is. */
async function lookUp(node: ContactsNode, peerId: string, signal: AbortSignal): Promise<RoutingOutcome> {
  try {
    const found = await node.peers.find(peerId, { signal })
    return {
      tried: true,
      found: true,
      addresses: [...new Set(found.addresses.map(address => canonical(address, peerId)))]
    }
  } catch (error) {
    if (signal.aborted) throw error
    return { tried: true, found: false, addresses: [], error: describeError(error) }
  }
}

/**
 * Connects this node to a peer: nothing to do when connected; else the remembered addresses, then
 * routing (`peers.find`). Records the address of the connection on success.
 */
export async function connectToPeer(plan: ConnectPlan): Promise<ConnectResult> {
  const started = performance.now()
  const attempts: DialAttempt[] = []
  let routing: RoutingOutcome = { tried: false, found: false, addresses: [] }
  const deadline = AbortSignal.timeout(plan.timeout)
  const signal = plan.signal == null ? deadline : AbortSignal.any([plan.signal, deadline])
  const { node, peerId } = plan
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
    const current = await connectionAddress(node, peerId, [], signal)
    if (current != null) return result('already-connected', current)

    const dialled = await dialFirst(plan, plan.addresses, signal, attempts)
    if (dialled != null) {
      // Kubo dials every address it knows for the peer, not only the one given: ask which one it used.
      const used = await connectionAddress(node, peerId, [dialled], signal)
      if (used != null) {
        await plan.recordSuccess(used)
        return result('remembered-address', used)
      }
      const winner = attempts.find(attempt => attempt.address === dialled)
      if (winner != null) Object.assign(winner, { outcome: 'failed', error: VANISHED })
    }

    signal.throwIfAborted()
    routing = await lookUp(node, peerId, signal)
    if (routing.found) {
      // No address found: `/p2p/<peerId>` alone lets the node's routing dial what it knows.
      const targets = routing.addresses.length > 0 ? routing.addresses : ['']
      const routingAttempts: DialAttempt[] = []
      const reached = await dialFirst(plan, targets, signal, routingAttempts)
      signal.throwIfAborted()
      if (reached != null) {
        const used = await connectionAddress(node, peerId, routing.addresses, signal)
        if (used != null) {
          await plan.recordSuccess(used)
          return result('routing', used)
        }
        routing = { ...routing, error: VANISHED }
      } else {
        const reasons = [...new Set(routingAttempts.map(attempt => attempt.error ?? attempt.outcome))]
        routing = { ...routing, error: reasons.join('; ') }
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
