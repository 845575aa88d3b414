import { createHash, type Hash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import fs from 'node:fs/promises'
import type { PeerStream, StreamSource } from '@tk/interface'
import { InvalidArgumentError } from '@tk/rpc'
import {
  Admission,
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_OPENING,
  DEFAULT_MAX_QUEUED,
  DEFAULT_MIN_RATE,
  DEFAULT_OPENING_TIMEOUT,
  DEFAULT_QUEUE_TIMEOUT,
  OpeningPool,
  RATE_WINDOW,
  watchProgress
} from './admission.js'
import { StreamClosedError, TransmissionError } from './errors.js'
import { partPathFor, publishPart, sanitizeFileName } from './file-names.js'
import { type Frame, FrameStream } from './frame-stream.js'
import {
  CHUNK_SIZE,
  checkPositive,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_MESSAGE_SIZE,
  ENCRYPTION_ALLOWANCE,
  MAX_OPEN_FRAME,
  type PeerOptions,
  protocolFor,
  type Transform
} from './options.js'
import {
  CREATE_FLAGS,
  DEFAULT_MAX_PART_BYTES,
  DEFAULT_MAX_PARTS,
  DEFAULT_PART_TTL,
  PartStore,
  REOPEN_FLAGS
} from './parts.js'
import {
  type AcceptHeader,
  type ErrorCode,
  FrameType,
  type OpenHeader,
  PREAMBLE,
  type TransmissionKind
} from './protocol.js'
import type { Progress } from './sender.js'
import { LISTENER_REUSE_IDLE } from './stream-pool.js'

/**
 * Ids of ended streams' last messages a data listener remembers at most, to answer a retried
 * message without delivering it twice: one per stream, so a few thousand are plenty.
 */
const DELIVERED_IDS = 4096
/** How long after its stream ended a message may come again (ms): a sender retries at once. */
const RETRY_WINDOW = 60_000

/**
 * Frames of a data transmission looked at for whether it came whole with its `open`: eager data
 * (up to 64 KiB) is one chunk frame and `end`; a few more for room.
 */
const EAGER_FRAMES = 8

/** Pieces of received content written with one writev at most; more are joined first. */
const WRITEV_PIECES = 16

/** How long a finished transmission waits for the sender to close first (ms), so our `done` is not cut off; one round trip is enough. */
export const LINGER_TIMEOUT = 1_000

export interface ListenOptions extends Omit<PeerOptions, 'timeout'> {
  /** Undoes the sender's `encrypt` on every chunk. */
  decrypt?: Transform
  /** Whether to serve this peer (Kubo authenticated its id); refused peers get `forbidden`. */
  allow?: (peerId: string) => boolean | Promise<boolean>
  /** Transmissions served at once; default 16. */
  concurrency?: number
  /** Transmissions waiting for a slot; beyond this a sender gets `busy`. Default 64. */
  maxQueued?: number
  /** Slots one peer may hold at once (its other transmissions wait); default half of `concurrency`. */
  maxStreamsPerPeer?: number
  /** How long a transmission may wait for a slot before it gets `busy` (ms); default 30 000. */
  queueTimeout?: number
  /** From a connection's arrival to its complete `open` (peer-id line, preamble, `open`), in ms; default 10 000. */
  openingTimeout?: number
  /**
   * Connections in their opening at once; when full, the oldest opening of the peer holding the
   * most gets `busy` to make room. Default 64.
   */
  maxOpening?: number
  /**
   * Slowest transfer accepted (bytes/s, over each `rateWindow` in which this side waited for the
   * peer); a slower peer gets `idle-timeout`. Default 4096; 0 turns the check off.
   */
  minRate?: number
  /** The window `minRate` is measured over (ms); default 10 000. */
  rateWindow?: number
  /** Largest data transmission (bytes; held in memory); default 32 MiB. */
  maxMessageSize?: number
  /** Called with each transmission that failed, and each handler error; the listener keeps serving. */
  onError?: (error: Error, peerId: string | undefined) => void
  /**
   * Data: take a sender's next transmission on the same stream when it offers (`reuse`), within
   * `maxOpening` such streams (`maxStreamsPerPeer` per peer); default true. `false` serves every
   * transmission on a stream of its own, as listeners did before reuse.
   */
  reuse?: boolean
  /** Also serve senders of another wire format (a plug-in, e.g. `ipfsToolkitPy()` of `@tk/transmission/python`). */
  wire?: ListenerPlugin
  /** How long opening the listener may take (ms); default 30 000. */
  timeout?: number
}

export type DataHandler = (data: Uint8Array, peerId: string) => void | Promise<void>
export type FileHandler = (file: ReceivedFile) => void | Promise<void>

/** What a listener hands a plug-in's hook: a stream whose first byte is not our preamble's. */
export interface ForeignIncoming {
  stream: FrameStream
  /** The sender, as the network authenticated it. */
  peerId: string
  /** Aborted when the listener closes. */
  signal: AbortSignal
  /** The listener's `onError` (or its log line). */
  report: (error: Error) => void
  /** Aborts at the listener's opening deadline: the request must have arrived by then. */
  opening: AbortSignal
  /** Tells the listener the request has arrived (its opening is over). */
  opened: () => void
}

/** Serves one foreign stream; `keep` when the stream lives on beyond the call. */
export type ForeignHook = (incoming: ForeignIncoming, firstByte: number) => Promise<'close' | 'keep'>

/**
 * The listening side of another wire format. Its requests are served beside our queue, within
 * bounds of its own (`concurrency`, `concurrencyPerPeer`): such a request may hold resources of
 * its own (a Python one holds a `p2p listen` in Kubo), and one that stalls must not hold a slot
 * our own senders are waiting for.
 */
export interface ListenerPlugin {
  /** Its name, for messages. */
  readonly name: string
  /** Requests of its format served at once. */
  readonly concurrency: number
  /** …of them from one peer. */
  readonly concurrencyPerPeer: number
  dataHook?(options: ListenOptions, handler: DataHandler): ForeignHook
  fileHook?(options: FileListenOptions, directory: string, handler: FileHandler): ForeignHook
}

export interface FileListenOptions extends ListenOptions {
  /** Where files are stored; must exist. Default: the current directory. */
  directory?: string
  /** Largest file accepted (bytes); default no limit. */
  maxFileSize?: number
  /** Parts of broken-off transfers kept for a resume, at most (the oldest of the peer holding the most goes first); default 64. */
  maxParts?: number
  /** Bytes of such parts kept, at most (likewise); default 1 GiB. */
  maxPartBytes?: number
  /** How long such a part waits for its sender to resume it (ms); default a day. Older parts found at start are deleted. */
  partTtl?: number
  /** Progress of each incoming file. */
  onProgress?: (progress: Progress & { peerId: string; name: string }) => void
}

/** A running listener. `close()` (or `await using`) removes its tunnel; transfers in progress are cut. */
export interface Listener extends AsyncDisposable {
  /** The libp2p protocol it serves, `/x/<name>`. */
  readonly protocol: string
  /** Stops serving, and cuts the transmissions in progress. Idempotent. */
  close(): Promise<void>
}

export interface ReceivedFile {
  /** The sender, as the network authenticated it. */
  peerId: string
  /** Where the file now is. */
  path: string
  /** The name the sender gave, sanitized. */
  name: string
  size: number
  metadata: Uint8Array
}

/** What each kind's server does with an accepted stream. */
export interface Incoming {
  stream: FrameStream
  peerId: string
  header: OpenHeader
  signal: AbortSignal
  /** Reports a failure of this transmission (a handler's error): `onError`, else a log line. */
  report: (error: Error) => void
  /** Slowest transfer accepted (bytes/s; 0: no minimum) and the window it is measured over (ms). */
  minRate: number
  rateWindow: number
}

interface ServeSpec {
  kind: TransmissionKind
  /** Checks the `open` header; returns the accept header or throws a `TransmissionError`. */
  accept: (incoming: Incoming) => Promise<AcceptHeader>
  /**
   * Serves a stream whose first byte is not our preamble's NUL (a peer of another protocol, e.g.
   * the Python IPFS-Toolkit); without it such a stream gets `unsupported-version`.
   */
  foreign?: ForeignHook
  /**
   * Serves the stream after `accept` was sent; `keep` hands the stream on (a conversation) instead
   * of closing it; `linger` closes it once the peer has (at most {@link LINGER_TIMEOUT} ms), so
   * that our last frame is not cut off; `close` closes it at once.
   */
  serve: (incoming: Incoming, accept: AcceptHeader) => Promise<'close' | 'keep' | 'linger'>
}

/** Runs a listener: the tunnel, the admission rules, and a serve function per stream. */
export async function startListener(
  streams: StreamSource,
  listenerName: string,
  spec: ServeSpec,
  options: ListenOptions
): Promise<Listener> {
  const protocol = protocolFor(listenerName)
  checkPositive('concurrency', options.concurrency)
  checkPositive('maxMessageSize', options.maxMessageSize)
  checkPositive('maxStreamsPerPeer', options.maxStreamsPerPeer)
  checkPositive('queueTimeout', options.queueTimeout)
  checkPositive('openingTimeout', options.openingTimeout)
  checkPositive('maxOpening', options.maxOpening)
  checkPositive('rateWindow', options.rateWindow)
  checkNonNegative('maxQueued', options.maxQueued)
  checkNonNegative('minRate', options.minRate)
  const controller = new AbortController()
  // Every connection waiting for bytes listens on this one signal: more than Node's default 10.
  setMaxListeners(0, controller.signal)
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
  const admission = new Admission({
    concurrency,
    maxQueued: options.maxQueued ?? DEFAULT_MAX_QUEUED,
    maxStreamsPerPeer: options.maxStreamsPerPeer ?? Math.max(1, Math.ceil(concurrency / 2)),
    queueTimeout: options.queueTimeout ?? DEFAULT_QUEUE_TIMEOUT
  })
  const openingTimeout = options.openingTimeout ?? DEFAULT_OPENING_TIMEOUT
  const maxOpening = options.maxOpening ?? DEFAULT_MAX_OPENING
  const openings = new OpeningPool(maxOpening)
  // Streams kept open for a sender's next transmission (`reuse`) cost a socket each while idle:
  // at most `maxOpening` of them, and `maxStreamsPerPeer` per peer; beyond, `accept` does not
  // offer reuse and the stream closes after its transmission, as without it.
  const reusing = new BoundedCounter(
    options.maxOpening ?? DEFAULT_MAX_OPENING,
    options.maxStreamsPerPeer ?? Math.max(1, Math.ceil((options.concurrency ?? DEFAULT_CONCURRENCY) / 2))
  )
  const foreignPerPeer = new Counter(options.wire?.concurrencyPerPeer ?? 0)
  const maxForeign = options.wire?.concurrency ?? 0
  let foreignActive = 0
  const minRate = options.minRate ?? DEFAULT_MIN_RATE
  const rateWindow = options.rateWindow ?? RATE_WINDOW
  const report = (error: Error, peerId: string | undefined): void => {
    if (options.onError == null) {
      // Without a reporter, one line per failed stream, so that a misbehaving peer is visible.
      const code = error instanceof TransmissionError ? ` (${error.code})` : ''
      console.warn(`[@tk/transmission ${protocol}] ${peerId ?? 'unknown peer'}: ${error.message}${code}`)
      return
    }
    try {
      options.onError(error, peerId)
    } catch {
      // A failing error reporter must not take the listener down.
    }
  }

  // Closing waits for these: every stream has been told and closed when `close()` resolves.
  const inFlight = new Set<Promise<void>>()
  // Every stream this listener was handed, until it is closed: closing the listener cuts them.
  const live = new Set<FrameStream>()
  const handle = async (peer: PeerStream): Promise<void> => {
    // The sender, as the network authenticated it (Kubo's --report-peer-id line, libp2p's connection).
    const peerId = peer.remotePeerId
    const stream = new FrameStream(peer, {
      // The first frame is `open`, which carries a file's metadata (base64).
      maxFrame: MAX_OPEN_FRAME,
      idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
      peerId
    })
    live.add(stream)
    void stream.ended.then(() => live.delete(stream))
    // This connection's own signal: the listener closing, or the stream closing (which also takes
    // it out of the queue).
    const connection = new AbortController()
    let watchingEnd = true
    void stream.ended.then(() => {
      if (watchingEnd)
        connection.abort(new StreamClosedError('The peer closed the stream while it waited', peerId))
    })
    // (A reused stream's end between transmissions is its normal end: `nextOpen` sees it.)
    // Forwarded by hand, not `AbortSignal.any`: nothing per connection stays attached to the
    // listener's long-lived signal once the connection is done.
    const onListenerClose = (): void => connection.abort(controller.signal.reason)
    controller.signal.addEventListener('abort', onListenerClose, { once: true })
    const signal = connection.signal
    // The whole opening (peer-id line, preamble, `open`) has one deadline, whatever the pace of its bytes.
    const openingDeadline = new AbortController()
    const openingTimer = setTimeout(
      () =>
        openingDeadline.abort(
          new TransmissionError(
            'idle-timeout',
            `the opening (preamble, open) took longer than ${openingTimeout} ms`,
            { peerId }
          )
        ),
      openingTimeout
    )
    // The connection's end ends its opening too; forwarded by hand and let go once the opening
    // is over (an `AbortSignal.any` per connection cost more CPU than the rest of the opening).
    const onConnectionAbort = (): void => openingDeadline.abort(signal.reason)
    signal.addEventListener('abort', onConnectionAbort, { once: true })
    const openingSignal = openingDeadline.signal
    // When the opening pool is full, the oldest opening of the peer holding the most gives way.
    const opening = openings.enter(error => openingDeadline.abort(error))
    const endOpening = (): void => {
      clearTimeout(openingTimer)
      signal.removeEventListener('abort', onConnectionAbort)
      opening.end()
    }
    let kept = false
    /** Whether this stream counts among the listener's reusable ones (see `reusing`). */
    let reusable = false
    try {
      opening.identify(peerId)
      const [firstByte = 0] = await stream.peekBytes(1, openingSignal)
      if (firstByte !== PREAMBLE[0] && spec.foreign != null) {
        // Another protocol's peers are served beside the queue, with bounds of their own: each
        // such request holds a `p2p listen` in Kubo, and one that stalls must not hold a slot
        // our own senders are waiting for. Its request is still bound by the opening deadline.
        if (foreignActive >= maxForeign || !foreignPerPeer.take(peerId)) {
          endOpening()
          stream.close()
          throw new TransmissionError('busy', 'the listener is serving its maximum; try again later', {
            peerId
          })
        }
        foreignActive++
        try {
          kept =
            (await spec.foreign(
              {
                stream,
                peerId,
                // The listener's lifetime, not this connection's: a Python sender closes its request
                // connection once it has read the reply, and the exchange goes on in the data tunnel.
                signal: controller.signal,
                report: error => report(error, peerId),
                opening: openingSignal,
                opened: endOpening
              },
              firstByte
            )) === 'keep'
        } finally {
          foreignActive--
          foreignPerPeer.release(peerId)
        }
        return
      }
      const preamble = await stream.readBytes(PREAMBLE.byteLength, openingSignal)
      if (preamble.some((byte, index) => byte !== PREAMBLE[index])) {
        throw new TransmissionError(
          'unsupported-version',
          preamble[0] === 0 && preamble[1] === PREAMBLE[1]
            ? `protocol version ${preamble[4]} is not supported (this side speaks 1)`
            : 'not a tk transmission',
          { peerId }
        )
      }
      let opened: Frame | undefined = await stream.expect([FrameType.open], openingSignal)
      endOpening()
      // One transmission after the other: more than one only when the sender offered `reuse`
      // and we agreed (data only), each admitted, accepted and served as the first.
      while (opened != null) {
        const header = parseOpen(opened.payload, peerId)
        opened = undefined
        if (header.kind !== spec.kind) {
          throw new TransmissionError(
            'wrong-kind',
            `this listener takes ${spec.kind} transmissions, not ${header.kind}`,
            {
              peerId
            }
          )
        }
        if (options.allow != null && !(await options.allow(peerId))) {
          throw new TransmissionError('forbidden', 'this listener does not serve your peer id', { peerId })
        }
        const release = await admission.enter(peerId, signal)
        let next = false
        try {
          const incoming: Incoming = {
            stream,
            peerId,
            header,
            signal,
            report: error => report(error, peerId),
            minRate,
            rateWindow
          }
          const accept = await spec.accept(incoming)
          if (
            header.reuse === true &&
            spec.kind === 'data' &&
            options.reuse !== false &&
            (reusable || reusing.take(peerId))
          ) {
            reusable = true
            accept.reuse = true
          }
          const answer = { type: FrameType.accept, payload: new TextEncoder().encode(JSON.stringify(accept)) }
          // Small data that came whole with its `open` (the sender's eager send): `accept` goes
          // out with `done`, in one write, since reading the content waits for nothing. Anything
          // else is accepted at once: the sender waits for `accept` before sending more.
          if (spec.kind === 'data' && stream.bufferedThrough(FrameType.end, EAGER_FRAMES))
            stream.defer(answer)
          else await stream.writeFrames([answer])
          const outcome = await spec.serve(incoming, accept)
          // Every data path answers with `done` or fails; should one not, `accept` still goes out.
          if (stream.deferring) await stream.writeFrames([])
          kept = outcome === 'keep'
          if (outcome === 'linger') {
            // The transmission is over: the peer closing now is its normal end, not a failure to
            // abort anything with (an error per connection, built for nobody).
            watchingEnd = false
            if (accept.reuse === true) next = true
            else await stream.closeAfterPeer(LINGER_TIMEOUT)
          }
        } finally {
          release()
        }
        if (next) {
          opened = await nextOpen(stream, LISTENER_REUSE_IDLE, signal)
          if (opened == null) stream.close()
          else watchingEnd = true
        }
      }
    } catch (error) {
      // A refused connection takes no slot while its error frame goes out.
      endOpening()
      const failure = error instanceof Error ? error : new Error(String(error))
      if (
        !(failure instanceof StreamClosedError) &&
        !(failure instanceof TransmissionError && failure.remote)
      ) {
        await stream.fail({ code: codeOf(failure), message: failure.message.slice(0, 300) })
      }
      if (!controller.signal.aborted) report(failure, peerId)
    } finally {
      endOpening()
      watchingEnd = false
      if (reusable) reusing.release(peerId)
      controller.signal.removeEventListener('abort', onListenerClose)
      if (!kept) stream.close()
    }
  }

  const server = await streams.serve(
    protocol,
    peer => {
      if (controller.signal.aborted) {
        peer.abort()
        return
      }
      const handling = handle(peer)
      inFlight.add(handling)
      void handling.finally(() => inFlight.delete(handling))
    },
    {
      // `timeout` bounds only the opening; the listener serves until it is closed.
      timeout: options.timeout ?? 30_000,
      signal: options.signal,
      onError: error => report(error, undefined)
    }
  )
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      const closed = new TransmissionError('aborted', 'the listener was closed')
      controller.abort(closed)
      admission.clear(closed)
      try {
        await server.close()
      } finally {
        // Transfers in progress (and conversations it started) are cut, as documented.
        for (const stream of live) stream.close()
        await Promise.all(inFlight)
      }
    })()
    await closing
  }
  options.signal?.addEventListener('abort', () => void close(), { once: true })
  return { protocol, close, [Symbol.asyncDispose]: close }
}

/** Counts per peer up to `perPeer` each, and up to `total` in all. */
class BoundedCounter {
  readonly #total: number
  readonly #perPeer: Counter
  #count = 0

  constructor(total: number, perPeer: number) {
    this.#total = total
    this.#perPeer = new Counter(perPeer)
  }

  take(peerId: string): boolean {
    if (this.#count >= this.#total || !this.#perPeer.take(peerId)) return false
    this.#count++
    return true
  }

  release(peerId: string): void {
    this.#count--
    this.#perPeer.release(peerId)
  }
}

/**
 * The next `open` on a reused stream, or undefined when the sender closed it or sent nothing for
 * `idleMs` (it closes its idle streams sooner): both are the stream's normal end.
 */
async function nextOpen(
  stream: FrameStream,
  idleMs: number,
  signal: AbortSignal
): Promise<Frame | undefined> {
  const idleTimeout = stream.idleTimeout
  stream.idleTimeout = idleMs
  stream.maxFrame = MAX_OPEN_FRAME
  try {
    return await stream.expect([FrameType.open], signal)
  } catch (error) {
    if (error instanceof StreamClosedError) return undefined
    if (error instanceof TransmissionError && !error.remote && error.code === 'idle-timeout') return undefined
    throw error
  } finally {
    stream.idleTimeout = idleTimeout
  }
}

/** Counts per peer, up to `limit` each. */
class Counter {
  readonly #limit: number
  readonly #counts = new Map<string, number>()

  constructor(limit: number) {
    this.#limit = limit
  }

  /** Counts one more for `peerId`; false (counting nothing) when it is at the limit. */
  take(peerId: string): boolean {
    const count = this.#counts.get(peerId) ?? 0
    if (count >= this.#limit) return false
    this.#counts.set(peerId, count + 1)
    return true
  }

  release(peerId: string): void {
    const count = (this.#counts.get(peerId) ?? 1) - 1
    if (count <= 0) this.#counts.delete(peerId)
    else this.#counts.set(peerId, count)
  }
}

function checkNonNegative(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && !Number.isNaN(value))) {
    throw new InvalidArgumentError(name, `expected 0 or a positive number, got ${value}`)
  }
}

function parseOpen(payload: Uint8Array, peerId: string): OpenHeader {
  let header: OpenHeader
  try {
    header = JSON.parse(new TextDecoder().decode(payload)) as OpenHeader
  } catch {
    throw new TransmissionError('protocol', 'the open frame is not JSON', { peerId })
  }
  const kinds: TransmissionKind[] = ['data', 'file', 'conversation']
  if (typeof header !== 'object' || header == null || !kinds.includes(header.kind)) {
    throw new TransmissionError('protocol', 'the open frame names no known kind', { peerId })
  }
  if (header.size !== undefined && !(Number.isSafeInteger(header.size) && header.size >= 0)) {
    throw new TransmissionError('protocol', 'the open frame has a bad size', { peerId })
  }
  if (header.name !== undefined && typeof header.name !== 'string') {
    throw new TransmissionError('protocol', 'the open frame has a bad name', { peerId })
  }
  return header
}

function codeOf(error: Error): ErrorCode {
  if (error instanceof TransmissionError) return error.code
  if (error.name === 'InvalidArgumentError') return 'protocol'
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return 'aborted'
  return 'internal'
}

/**
 * Reads chunks until `end`, decrypting and hashing; `onChunk` stores each piece (a chunk comes in
 * the pieces it arrived in, not copied into one buffer).
 */
export async function receiveContent(
  incoming: Incoming,
  size: number,
  received: number,
  hash: ReturnType<typeof createHash>,
  decrypt: Transform | undefined,
  onChunk: (piece: Uint8Array) => Promise<void> | void
): Promise<void> {
  const { stream, peerId } = incoming
  stream.maxFrame = CHUNK_SIZE + ENCRYPTION_ALLOWANCE
  // Beyond the per-byte idle timer: a peer that keeps a slot by sending a byte now and then is
  // cut once a whole window passed below the minimum rate.
  // The connection's signal is forwarded by hand, not with `AbortSignal.any`, which costs more
  // per transmission (and keeps a dependent signal on the connection's until collected).
  const slow = new AbortController()
  const signal = slow.signal
  const onAbort = (): void => slow.abort(incoming.signal.reason)
  if (incoming.signal.aborted) onAbort()
  else incoming.signal.addEventListener('abort', onAbort, { once: true })
  const stopWatching = watchProgress(
    stream,
    incoming.minRate,
    incoming.rateWindow,
    error => slow.abort(error),
    peerId
  )
  try {
    let total = received
    for (;;) {
      const frame = await stream.expectPieces([FrameType.chunk, FrameType.end], signal)
      if (frame.type === FrameType.end) {
        if (total !== size) {
          throw new TransmissionError('protocol', `the sender announced ${size} bytes and sent ${total}`, {
            peerId
          })
        }
        const expected = Buffer.concat(frame.pieces)
        if (!expected.equals(hash.digest())) {
          throw new TransmissionError(
            'digest-mismatch',
            'the content arrived with another SHA-256 than sent; nothing was kept',
            {
              peerId
            }
          )
        }
        return
      }
      // An empty chunk moves nothing and costs a write and a progress call: a peer sending them
      // by the thousand only burns the receiver's time.
      if (frame.length === 0) {
        throw new TransmissionError('protocol', 'an empty chunk frame', { peerId })
      }
      // The chunk's pieces as they came off the stream (no copy), unless `decrypt` needs it whole.
      let pieces = frame.pieces
      let length = frame.length
      if (decrypt != null) {
        try {
          const piece = await decrypt(pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces))
          pieces = [piece]
          length = piece.byteLength
        } catch (error) {
          throw new TransmissionError('rejected', `decrypt failed: ${(error as Error).message}`, {
            peerId,
            cause: error
          })
        }
      }
      total += length
      if (total > size) {
        throw new TransmissionError('too-large', `the sender announced ${size} bytes and sent more`, {
          peerId
        })
      }
      for (const piece of pieces) {
        hash.update(piece)
        await onChunk(piece)
      }
    }
  } finally {
    incoming.signal.removeEventListener('abort', onAbort)
    stopWatching()
  }
}

/**
 * Receives data transmissions on `/x/<listenerName>`. `handler` is called with each one once it
 * has arrived intact (after the sender was told so); its errors go to `onError`.
 */
export async function listenForTransmissions(
  streams: StreamSource,
  listenerName: string,
  handler: DataHandler,
  options: ListenOptions = {}
): Promise<Listener> {
  const maxSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
  // Message ids (`peer id`) a retry may carry. A sender retries only the message that was on a
  // reused stream when it broke, i.e. the last message of that stream: so each stream's last id
  // is kept while the stream lives and for RETRY_WINDOW after it ended, and nothing per message
  // beyond that (a long burst on one stream keeps one id, not one per message).
  const lastIdOf = new Map<FrameStream, string>()
  const live = new Map<string, FrameStream>()
  const ended = new Map<string, number>()
  const delivered = {
    has: (key: string): boolean => {
      const now = Date.now()
      for (const [old, at] of ended) {
        if (now - at <= RETRY_WINDOW && ended.size <= DELIVERED_IDS) break
        ended.delete(old)
      }
      return live.has(key) || ended.has(key)
    },
    add: (key: string, stream: FrameStream): void => {
      const previous = lastIdOf.get(stream)
      if (previous == null) {
        // Once per stream: its last id moves to `ended` when it ends.
        void stream.ended.then(() => {
          const last = lastIdOf.get(stream)
          lastIdOf.delete(stream)
          if (last == null) return
          live.delete(last)
          ended.set(last, Date.now())
        })
      } else live.delete(previous)
      lastIdOf.set(stream, key)
      live.set(key, stream)
    }
  }
  const deliver = async (incoming: Incoming, data: Uint8Array): Promise<void> => {
    try {
      await handler(data, incoming.peerId)
    } catch (error) {
      incoming.report(error as Error)
    }
  }
  return await startListener(
    streams,
    listenerName,
    {
      kind: 'data',
      foreign: options.wire?.dataHook?.(options, handler),
      accept: async ({ header, peerId }) => {
        if ((header.size ?? 0) > maxSize) {
          throw new TransmissionError(
            'too-large',
            `${header.size} bytes is beyond this listener's ${maxSize}`,
            { peerId }
          )
        }
        return { maxFrame: CHUNK_SIZE + ENCRYPTION_ALLOWANCE }
      },
      serve: async incoming => {
        const size = incoming.header.size ?? 0
        const data = new Uint8Array(size)
        let offset = 0
        await receiveContent(incoming, size, 0, createHash('sha256'), options.decrypt, piece => {
          data.set(piece, offset)
          offset += piece.byteLength
        })
        const id = incoming.header.id
        if (id == null) {
          await incoming.stream.write(FrameType.done)
        } else {
          const key = `${incoming.peerId} ${id}`
          if (delivered.has(key)) {
            // Sent again on a fresh stream after its first stream broke before our `done` got
            // through: delivered already, so only the answer goes out.
            await incoming.stream.write(FrameType.done)
            return 'linger'
          }
          delivered.add(key, incoming.stream)
          // Intact and counted as delivered: the handler gets it even if `done` does not get
          // through, and the sender's retry then finds it here instead of delivering it twice.
          await incoming.stream.write(FrameType.done).catch((error: unknown) => {
            void deliver(incoming, data)
            throw error
          })
        }
        await deliver(incoming, data)
        return 'linger'
      }
    },
    options
  )
}

/**
 * Receives files on `/x/<listenerName>` into `directory`. Each is written to a `.part` file,
 * checked by SHA-256 and only then given its (sanitized, never overwriting) name; `handler` gets
 * the result. A transfer that broke off keeps its `.part`, and the sender's next attempt resumes it.
 */
export async function listenForFileTransmissions(
  streams: StreamSource,
  listenerName: string,
  handler: FileHandler,
  options: FileListenOptions = {}
): Promise<Listener> {
  const directory = options.directory ?? process.cwd()
  const stat = await fs.stat(directory).catch(() => undefined)
  if (stat == null || !stat.isDirectory()) {
    throw new TransmissionError(
      'internal',
      `${directory} is not a directory; create it or pass another \`directory\``
    )
  }
  const maxFileSize = options.maxFileSize ?? Number.MAX_SAFE_INTEGER
  checkPositive('maxParts', options.maxParts)
  checkNonNegative('maxPartBytes', options.maxPartBytes)
  checkPositive('partTtl', options.partTtl)
  const parts = new PartStore(directory, {
    maxParts: options.maxParts ?? DEFAULT_MAX_PARTS,
    maxBytes: options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES,
    ttl: options.partTtl ?? DEFAULT_PART_TTL
  })
  await parts.start()
  let listener: Listener
  try {
    listener = await startListener(
      streams,
      listenerName,
      {
        kind: 'file',
        foreign: options.wire?.fileHook?.(options, directory, handler),
        accept: async ({ header, peerId }) => {
          const size = header.size ?? 0
          if (size > maxFileSize) {
            throw new TransmissionError(
              'too-large',
              `${size} bytes is beyond this listener's ${maxFileSize}`,
              {
                peerId
              }
            )
          }
          const part = partPathFor(directory, peerId, header.name ?? '', size)
          if (parts.inUse(part)) throw alreadyReceiving(peerId)
          // A file the disk cannot hold is refused now, not after filling it.
          const space = await fs.statfs(directory).catch(() => undefined)
          if (space != null && size > space.bavail * space.bsize) {
            throw new TransmissionError(
              'too-large',
              `${size} bytes is more than the ${space.bavail * space.bsize} bytes free on the receiver`,
              { peerId }
            )
          }
          let held = 0
          if (header.resume === true) {
            // lstat: a link planted at the part's name is not a part (and is replaced, never followed).
            const stat = await fs.lstat(part).catch(() => undefined)
            if (stat?.isFile() === true && stat.nlink === 1 && stat.size <= size) held = stat.size
          }
          return { maxFrame: CHUNK_SIZE + ENCRYPTION_ALLOWANCE, offset: held }
        },
        serve: async (incoming, accept) => {
          const { header, peerId, signal } = incoming
          const size = header.size ?? 0
          const name = sanitizeFileName(header.name ?? '')
          const part = partPathFor(directory, peerId, header.name ?? '', size)
          // Checked again here, and taken: two streams of the same file never write one part.
          if (parts.inUse(part)) throw alreadyReceiving(peerId)
          const kept = parts.claim(part)
          const offset = accept.offset ?? 0
          let file: fs.FileHandle | undefined
          let hash: Hash = createHash('sha256')
          let hashed = 0
          let written = offset
          // What a transfer that broke off leaves for the next attempt: the part and the hash state.
          let keep: { bytes: number; hash: Hash | undefined; hashed: number; peerId: string } | undefined
          let complete = false
          try {
            if (offset > 0) {
              file = await fs.open(part, REOPEN_FLAGS)
              const stat = await file.stat()
              if (!stat.isFile() || stat.nlink !== 1 || stat.size < offset) {
                throw new TransmissionError('internal', 'the part changed since the transfer was accepted', {
                  peerId
                })
              }
              // The hash state kept with the part; else (after a restart) its bytes are read once,
              // and what was read is kept even if the peer hangs up meanwhile.
              if (kept?.hash != null && kept.hashed <= offset) {
                hash = kept.hash
                hashed = kept.hashed
              }
              const buffer = Buffer.allocUnsafe(CHUNK_SIZE)
              try {
                while (hashed < offset) {
                  signal.throwIfAborted()
                  const { bytesRead } = await file.read(
                    buffer,
                    0,
                    Math.min(CHUNK_SIZE, offset - hashed),
                    hashed
                  )
                  if (bytesRead === 0) break
                  hash.update(buffer.subarray(0, bytesRead))
                  hashed += bytesRead
                  parts.rehashedBytes += bytesRead
                }
              } catch (error) {
                keep = { bytes: stat.size, hash, hashed, peerId }
                throw error
              }
            } else {
              // Created afresh and exclusively, never through a link someone planted at this name.
              await fs.rm(part, { force: true })
              file = await fs.open(part, CREATE_FLAGS, 0o600)
            }
            const started = Date.now()
            // Pieces are gathered up to a chunk's worth before one write and one progress call: a
            // peer sending 1-byte chunks costs no more syscalls and callbacks than one sending 256 KiB.
            const pending: Uint8Array[] = []
            let pendingBytes = 0
            const flush = async (): Promise<void> => {
              if (pendingBytes === 0) return
              const bytes = pendingBytes
              const pieces = pending.splice(0)
              pendingBytes = 0
              // A chunk's few pieces go in one writev, not joined into a copy first; many small
              // ones (a peer sending tiny chunks) are joined, which is cheaper than an iovec each.
              if (pieces.length === 1) await file?.write(pieces[0] as Uint8Array, 0, bytes, written)
              else if (pieces.length <= WRITEV_PIECES) await file?.writev(pieces, written)
              else await file?.write(Buffer.concat(pieces), 0, bytes, written)
              written += bytes
              const seconds = Math.max((Date.now() - started) / 1000, 0.001)
              options.onProgress?.({
                peerId,
                name,
                bytes: written,
                total: size,
                rate: (written - offset) / seconds
              })
            }
            try {
              await receiveContent(incoming, size, offset, hash, options.decrypt, async piece => {
                pending.push(piece)
                pendingBytes += piece.byteLength
                if (pendingBytes >= CHUNK_SIZE) await flush()
              })
              await flush()
            } catch (error) {
              // Every piece read was hashed; once written too, the part and the hash state agree.
              await flush()
              keep = { bytes: written, hash, hashed: written, peerId }
              throw error
            }
            await file.truncate(size)
            await file.sync()
            complete = true
          } catch (error) {
            // Keep the part of a stream that broke off, went quiet or was cut by our closing (the
            // sender resumes it); anything else (a wrong digest, a refused piece) drops it.
            if (!isResumable(error)) keep = undefined
            throw error
          } finally {
            await file?.close()
            if (!complete && keep == null) await fs.rm(part, { force: true })
            if (!complete) await parts.release(part, keep)
          }
          let finalPath: string
          try {
            finalPath = await publishPart(part, directory, name)
          } finally {
            // Only now: a new transfer of the same file must not recreate the part under our feet.
            await parts.release(part)
          }
          await incoming.stream.write(FrameType.done)
          const metadata =
            header.metadata == null
              ? new Uint8Array(0)
              : new Uint8Array(Buffer.from(header.metadata, 'base64'))
          if (size === 0) options.onProgress?.({ peerId, name, bytes: 0, total: 0, rate: 0 })
          try {
            await handler({
              peerId,
              path: finalPath,
              name: finalPath.split(/[/\\]/).pop() ?? name,
              size,
              metadata
            })
          } catch (error) {
            incoming.report(error as Error)
          }
          return 'linger'
        }
      },
      options
    )
  } catch (error) {
    parts.close()
    throw error
  }
  const close = async (): Promise<void> => {
    await listener.close()
    parts.close()
  }
  return { protocol: listener.protocol, close, [Symbol.asyncDispose]: close }
}

function alreadyReceiving(peerId: string): TransmissionError {
  return new TransmissionError('busy', 'this file is being received from you already; try again later', {
    peerId
  })
}

/** Whether a failed file transfer leaves a part worth resuming. */
function isResumable(error: unknown): boolean {
  if (error instanceof StreamClosedError) return true
  return (
    error instanceof TransmissionError &&
    !error.remote &&
    (error.code === 'idle-timeout' || error.code === 'aborted')
  )
}
