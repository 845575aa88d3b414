import { StreamClosedError, TransmissionError } from '../errors.js'
import { FrameStream } from '../frame-stream.js'
import type { Transform } from '../options.js'
import { checksumByte, encodePythonFrame, equalBytes, fromUtf8, utf8, withChecksum } from './b255.js'
import type { PythonNode } from './node.js'
import { openDataTunnel } from './tunnels.js'
import {
  FINISHED,
  MAX_REQUEST_BYTES,
  REQUEST_ACCEPTED,
  REQUEST_REFUSED,
  readAcceptReply,
  readPythonFrame,
  readUnframed
} from './wire.js'

/**
 * How long a Python sender has to connect to the data tunnel after our reply (ms): ipfs_tk does it
 * right after reading the reply (one `p2p forward` and a connect), so this is generous.
 */
const DATA_CONNECT_TIMEOUT = 10_000

/** A request we did not take: the peer was told (`not accepted`), the listener's `onError` hears why. */
export class RefusedRequestError extends TransmissionError {}

export interface PythonSendOptions {
  signal: AbortSignal
  /** No byte from the peer for this long fails the exchange (ms). */
  idleTimeout: number
}

/**
 * One Python `transmit_data`: a request (checksum + our peer id) to `protocol` on `peerId`, the
 * listener's answer naming a one-off tunnel, then the data frame through that tunnel; resolves
 * when the receiver answered `Finished!`. That answer only says the bytes arrived: the Python
 * format has no checksum over the data.
 */
export async function sendPythonTransmission(
  client: PythonNode,
  peerId: string,
  protocol: string,
  payload: Uint8Array,
  options: PythonSendOptions
): Promise<void> {
  // A signal of this transmission's own: `net.connect({ signal })` leaves its abort listener on
  // the signal it got, and conversations send thousands of messages under one long-lived signal.
  const controller = new AbortController()
  const forward = (): void => controller.abort(options.signal.reason)
  options.signal.throwIfAborted()
  options.signal.addEventListener('abort', forward, { once: true })
  try {
    await exchange(client, peerId, protocol, payload, controller.signal, options.idleTimeout)
  } catch (error) {
    throw explainPython(error, options.signal, peerId, `the transmission to ${protocol}`)
  } finally {
    options.signal.removeEventListener('abort', forward)
  }
}

async function exchange(
  client: PythonNode,
  peerId: string,
  protocol: string,
  payload: Uint8Array,
  signal: AbortSignal,
  idleTimeout: number
): Promise<void> {
  const request = withChecksum(utf8(await client.streams.peerId({ signal })))
  const requestStream = new FrameStream(await client.streams.open(peerId, protocol, { signal }), {
    maxFrame: MAX_REQUEST_BYTES,
    idleTimeout,
    peerId
  })
  let tunnelName: string
  const closeRequest = (): void => requestStream.close()
  signal.addEventListener('abort', closeRequest, { once: true })
  try {
    await requestStream.writeRaw(encodePythonFrame(request), signal)
    tunnelName = await readAcceptReply(requestStream, signal)
  } finally {
    signal.removeEventListener('abort', closeRequest)
    requestStream.close()
  }
  const dataStream = new FrameStream(await client.streams.open(peerId, `/x/${tunnelName}`, { signal }), {
    maxFrame: MAX_REQUEST_BYTES,
    idleTimeout,
    peerId
  })
  const closeData = (): void => dataStream.close()
  signal.addEventListener('abort', closeData, { once: true })
  try {
    await dataStream.writeRaw(encodePythonFrame(payload), signal)
    const reply = await readUnframed(dataStream, FINISHED.length, FINISHED.length, signal)
    if (!equalBytes(reply, utf8(FINISHED))) {
      throw new TransmissionError('protocol', 'The Python receiver did not answer "Finished!"', {
        remote: true,
        peerId
      })
    }
  } finally {
    signal.removeEventListener('abort', closeData)
    dataStream.close()
  }
}

/** Turns an abort into its reason and a closed stream into a message that says what was going on. */
export function explainPython(error: unknown, signal: AbortSignal, peerId: string, what: string): unknown {
  if (signal.aborted) return signal.reason
  if (error instanceof StreamClosedError) {
    return new StreamClosedError(
      `The stream to ${peerId} closed during ${what}: the peer is unreachable, has no Python listener of that name, or refused`,
      peerId,
      { cause: error }
    )
  }
  return error
}

export interface PythonAnswerOptions {
  client: PythonNode
  /** Largest data frame taken (bytes); beyond it the connection closes without `Finished!`. */
  maxSize: number
  idleTimeout: number
  signal: AbortSignal
  /** Whether to serve this (Kubo-authenticated) peer. */
  allow?: (peerId: string) => boolean | Promise<boolean>
  /** Applied to the data before `Finished!` is sent (the listener's `decrypt`); a throw refuses it. */
  transform?: Transform
  /** Awaited before `Finished!` is sent, with the data: a slow reader holds the sender back there. */
  beforeFinished?: (data: Uint8Array) => Promise<void>
}

/**
 * Serves one Python request on `stream`, whose Kubo peer-id line was already read (`peerId`):
 * checks the request, opens the one-off data tunnel, takes the data frame and answers `Finished!`.
 * Resolves with the data. The request carries the sender's own claim of its peer id, which we
 * refuse unless it equals the id Kubo authenticated: the handler only ever sees the latter.
 */
export async function answerPythonRequest(
  stream: FrameStream,
  peerId: string,
  options: PythonAnswerOptions
): Promise<Uint8Array> {
  const { signal } = options
  const request = await readPythonFrame(stream, MAX_REQUEST_BYTES, signal)
  const refuse = async (code: 'forbidden' | 'protocol', message: string): Promise<never> => {
    await stream.writeRaw(utf8(REQUEST_REFUSED)).catch(() => {})
    await stream.closeAfterPeer(1_000)
    throw new RefusedRequestError(code, message, { peerId })
  }
  if (request.byteLength < 2 || checksumByte(request.subarray(1)) !== request[0]) {
    return await refuse('protocol', 'a Python transmission request with a wrong checksum byte')
  }
  const claimed = fromUtf8(request.subarray(1))
  if (claimed !== peerId) {
    return await refuse(
      'forbidden',
      `a Python transmission request claiming to come from ${JSON.stringify((claimed ?? '<not UTF-8>').slice(0, 80))}, but Kubo authenticated ${peerId}`
    )
  }
  if (options.allow != null && !(await options.allow(peerId))) {
    return await refuse('forbidden', 'this listener does not serve your peer id')
  }
  const tunnel = await openDataTunnel(options.client, peerId, options.idleTimeout, signal)
  try {
    if (stream.closed) {
      // The sender left while the tunnel opened: nobody will come to it.
      throw new StreamClosedError('The Python sender went away before the reply', peerId)
    }
    await stream.writeRaw(utf8(`${REQUEST_ACCEPTED}${tunnel.name}`))
    // The Python sender closes its end once it read the reply; our close must not cut the reply.
    void stream.closeAfterPeer(1_000)
    // From here on the request connection is done with (its closing is no failure); a sender
    // that does not come to the data tunnel at once is not coming, and the tunnel is freed.
    const dataStream = await tunnel.accept(
      options.idleTimeout > 0 ? Math.min(options.idleTimeout, DATA_CONNECT_TIMEOUT) : DATA_CONNECT_TIMEOUT
    )
    try {
      let data = await readPythonFrame(dataStream, options.maxSize, signal)
      if (options.transform != null) {
        try {
          data = await options.transform(data)
        } catch (error) {
          throw new TransmissionError('rejected', `decrypt failed: ${(error as Error).message}`, {
            peerId,
            cause: error
          })
        }
      }
      await options.beforeFinished?.(data)
      await dataStream.writeRaw(utf8(FINISHED))
      await dataStream.closeAfterPeer(1_000)
      return data
    } finally {
      dataStream.close()
    }
  } finally {
    await tunnel.close()
  }
}
