import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { StreamSource } from '@tk/interface'
import { InvalidArgumentError } from '@tk/rpc'
import { StreamClosedError, TransmissionError } from './errors.js'
import { type Frame, FrameStream } from './frame-stream.js'
import {
  CHUNK_SIZE,
  checkedPeerId,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_TIMEOUT,
  MAX_CONTROL_FRAME,
  MAX_METADATA_BYTES,
  MAX_OPEN_FRAME,
  type PeerOptions,
  protocolFor,
  resolvePeer,
  type Transform,
  withDeadline
} from './options.js'
import { type AcceptHeader, FrameType, type OpenHeader, PREAMBLE } from './protocol.js'
import type { StreamPool } from './stream-pool.js'

/**
 * A sender of another wire format (a plug-in such as `@tk/transmission/python`'s): given as
 * `wire`, it carries the transmission instead of our protocol. `protocol` is `/x/<name>`.
 */
export interface SenderPlugin {
  /** Its name, for messages. */
  readonly name: string
  transmitData?(
    data: Uint8Array,
    peerId: string,
    protocol: string,
    options: TransmitOptions,
    signal: AbortSignal
  ): Promise<void>
  transmitFile?(
    filePath: string,
    peerId: string,
    protocol: string,
    metadata: Uint8Array | undefined,
    options: TransmitFileOptions,
    signal: AbortSignal
  ): Promise<void>
}

export interface TransmitOptions extends PeerOptions {
  /**
   * Data: keep the stream for the next transmission to the same listener (if it agrees), as a
   * component does by default; `false`: one stream per transmission, as before.
   */
  reuse?: boolean
  /** Applied to every chunk before it is sent; the listener's `decrypt` undoes it. */
  encrypt?: Transform
  /** Speak another wire format (a plug-in, e.g. `ipfsToolkitPy()` of `@tk/transmission/python`); default ours. */
  wire?: SenderPlugin
}

export interface Progress {
  /** Bytes the receiver has been sent so far (including what a resumed transfer skipped). */
  bytes: number
  /** Bytes in all. */
  total: number
  /** Bytes per second since the transfer started. */
  rate: number
}

export interface TransmitFileOptions extends TransmitOptions {
  /** Sent along and handed to the receiver's handler (at most 48 KiB). */
  metadata?: Uint8Array | string
  /** Called as bytes go out; `bytes` only grows and ends at `total`. */
  onProgress?: (progress: Progress) => void
  /** New connections (resuming from what the receiver holds) after a stream breaks off; default 3. */
  retries?: number
}

/** Data up to this size is sent without waiting for the listener's `accept`. */
export const EAGER_LIMIT = 64 * 1024

/** The `open` frame's payload; a header beyond what listeners take is refused here, before any request. */
export function encodeOpen(header: OpenHeader): Uint8Array {
  const payload = new TextEncoder().encode(JSON.stringify(header))
  if (payload.byteLength > MAX_OPEN_FRAME) {
    throw new InvalidArgumentError(
      header.kind === 'file' ? 'filePath' : 'name',
      `the name makes the open frame ${payload.byteLength} bytes, beyond the ${MAX_OPEN_FRAME} a listener takes; use a shorter name`
    )
  }
  return payload
}

/** Metadata as bytes, refused (before any request) beyond {@link MAX_METADATA_BYTES}. */
export function checkedMetadata(metadata: Uint8Array | string | undefined): Uint8Array | undefined {
  const bytes = typeof metadata === 'string' ? new TextEncoder().encode(metadata) : metadata
  if (bytes != null && !(bytes instanceof Uint8Array)) {
    throw new InvalidArgumentError('metadata', 'expected a Uint8Array or a string')
  }
  if (bytes != null && bytes.byteLength > MAX_METADATA_BYTES) {
    throw new InvalidArgumentError(
      'metadata',
      `at most ${MAX_METADATA_BYTES} bytes (48 KiB), got ${bytes.byteLength}; send larger data as a file or a message`
    )
  }
  return bytes
}

/** Opens one stream to the listener and sends our preamble and `open`; resolves with its `accept`. */
export async function openStream(
  streams: StreamSource,
  peerId: string,
  listenerName: string,
  header: OpenHeader,
  options: PeerOptions,
  signal: AbortSignal,
  /** Frames to send right behind `open`, before the `accept` (small data: saves a round trip). */
  eager: readonly Frame[] = [],
  /** A stream that carried an earlier transmission to this listener (`reuse`): no new stream, no preamble. */
  reused?: FrameStream
): Promise<{ stream: FrameStream; accept: AcceptHeader }> {
  const open = encodeOpen(header)
  const protocol = protocolFor(listenerName)
  const stream =
    reused ??
    new FrameStream(await streams.open(peerId, protocol, { signal }), {
      maxFrame: MAX_CONTROL_FRAME,
      idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
      peerId
    })
  stream.idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT
  const onAbort = (): void => stream.close()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    // One write for everything up to the answer: fewer packets through Kubo's tunnel.
    const first = reused == null ? [PREAMBLE] : []
    await stream.writeFrames([...first, { type: FrameType.open, payload: open }, ...eager], signal)
    const reply = await stream.expect([FrameType.accept], signal)
    const accept = JSON.parse(new TextDecoder().decode(reply.payload)) as AcceptHeader
    return { stream, accept }
  } catch (error) {
    stream.close()
    throw explain(error, signal, peerId, stream)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Turns an abort into the caller's reason; a closed stream into the peer's own reason when it
 * sent one before closing, else a clear message.
 */
export function explain(error: unknown, signal: AbortSignal, peerId: string, stream?: FrameStream): unknown {
  if (signal.aborted) return signal.reason
  if (error instanceof StreamClosedError) {
    const said = stream?.bufferedError()
    if (said != null) return said
    return new StreamClosedError(
      `The stream to ${peerId} closed before the transmission finished: the peer is unreachable, has no listener of that name, or went away`,
      peerId,
      { cause: error }
    )
  }
  return error
}

/**
 * Sends `data` to the listener `listenerName` on a peer (its id, or a contact's name with `contacts`). Resolves once the receiver has
 * checked the SHA-256 of everything it got; rejects otherwise (`TransmissionError`,
 * `StreamClosedError`, the abort reason).
 */
export async function transmitData(
  streams: StreamSource,
  data: Uint8Array | string,
  peerIdOrName: string,
  listenerName: string,
  options: TransmitOptions = {},
  /** Where streams wait between transmissions (`reuse`); without it, a stream per transmission. */
  pool?: StreamPool
): Promise<void> {
  if (options.contacts == null) checkedPeerId(peerIdOrName)
  const protocol = protocolFor(listenerName)
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  if (!(bytes instanceof Uint8Array))
    throw new InvalidArgumentError('data', 'expected a Uint8Array or a string')
  const wire = options.wire
  if (wire != null && wire.transmitData == null)
    throw new InvalidArgumentError('wire', `${wire.name} does not send data`)
  await withDeadline(options, DEFAULT_TIMEOUT, async signal => {
    const peerId = await resolvePeer(peerIdOrName, options, signal)
    if (wire?.transmitData != null)
      return await wire.transmitData(bytes, peerId, protocolFor(listenerName), options, signal)
    const frames = async function* (): AsyncGenerator<Frame> {
      for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_SIZE) {
        const piece = bytes.subarray(offset, offset + CHUNK_SIZE)
        yield {
          type: FrameType.chunk,
          payload: options.encrypt == null ? piece : await options.encrypt(piece)
        }
      }
      yield { type: FrameType.end, payload: createHash('sha256').update(bytes).digest() }
    }
    // Small data goes out with `open`, before the listener accepts: one round trip instead of two.
    // Larger data waits for `accept`, so a refusal costs no bandwidth.
    let eager: Frame[] | undefined
    if (bytes.byteLength <= EAGER_LIMIT) {
      eager = []
      for await (const frame of frames()) eager.push(frame)
    }
    const reusing = options.reuse === false ? undefined : pool
    const header: OpenHeader = {
      kind: 'data',
      size: bytes.byteLength,
      ...(reusing == null ? {} : { reuse: true, id: randomBytes(16).toString('base64url') })
    }
    const key = `${protocol} ${peerId}`
    /** The stream to keep for the next transmission (the listener let it be reused). */
    let kept: FrameStream | undefined
    const send = async (reused: FrameStream | undefined): Promise<void> => {
      const { stream, accept } = await openStream(
        streams,
        peerId,
        listenerName,
        header,
        options,
        signal,
        eager,
        reused
      )
      const onAbort = (): void => stream.close()
      signal.addEventListener('abort', onAbort, { once: true })
      let keep = false
      try {
        if (eager == null) for await (const frame of frames()) await stream.writeFrames([frame], signal)
        await stream.expect([FrameType.done], signal)
        keep = reusing != null && accept.reuse === true
      } catch (error) {
        throw explain(error, signal, peerId, stream)
      } finally {
        signal.removeEventListener('abort', onAbort)
        if (keep) kept = stream
        else stream.close()
      }
    }
    if (reusing == null) return await send(undefined)
    // A turn among the component's transmissions to this listener (waits while as many are in
    // flight as the listener serves at once), with an idle stream if there is one.
    const pooled = await reusing.acquire(key, signal)
    try {
      if (pooled == null) return await send(undefined)
      try {
        await send(pooled)
      } catch (error) {
        // A pooled stream can turn out broken (the listener's idle close crossing this send, a
        // tunnel torn down): once more on a fresh stream. The message keeps its id, so a listener
        // that delivered it before the break answers `done` without delivering it again.
        if (signal.aborted || !(error instanceof StreamClosedError)) throw error
        await send(undefined)
      }
    } finally {
      reusing.release(key, kept)
    }
  })
}

/**
 * Sends the file at `filePath` to the file listener `listenerName` on `peerId`, streamed in
 * chunks. Resolves when the receiver has the whole file under its final name with a matching
 * SHA-256. A stream that breaks off is reopened (`retries`) and continues where the receiver's
 * `.part` file ends.
 */
export async function transmitFile(
  streams: StreamSource,
  filePath: string,
  peerIdOrName: string,
  listenerName: string,
  options: TransmitFileOptions = {}
): Promise<void> {
  if (options.contacts == null) checkedPeerId(peerIdOrName)
  protocolFor(listenerName)
  const metadata = checkedMetadata(options.metadata)
  let stat: Awaited<ReturnType<typeof fs.stat>>
  try {
    stat = await fs.stat(filePath)
  } catch (error) {
    throw new InvalidArgumentError('filePath', `cannot read ${filePath}: ${(error as Error).message}`, {
      cause: error
    })
  }
  if (!stat.isFile()) throw new InvalidArgumentError('filePath', `${filePath} is not a file`)
  const wire = options.wire
  if (wire != null && wire.transmitFile == null)
    throw new InvalidArgumentError('wire', `${wire.name} does not send files`)
  const header: OpenHeader = {
    kind: 'file',
    size: stat.size,
    name: path.basename(filePath),
    metadata: metadata == null ? undefined : Buffer.from(metadata).toString('base64'),
    resume: true
  }
  if (wire == null) encodeOpen(header)
  await withDeadline(options, Number.POSITIVE_INFINITY, async signal => {
    const peerId = await resolvePeer(peerIdOrName, options, signal)
    if (wire?.transmitFile != null)
      return await wire.transmitFile(filePath, peerId, protocolFor(listenerName), metadata, options, signal)
    const started = Date.now()
    let retriesLeft = options.retries ?? 3
    for (;;) {
      try {
        await sendFileOnce(
          streams,
          filePath,
          stat.size,
          peerId,
          listenerName,
          header,
          options,
          signal,
          started
        )
        return
      } catch (error) {
        if (signal.aborted || retriesLeft <= 0 || !(error instanceof StreamClosedError)) throw error
        retriesLeft--
      }
    }
  })
}

async function sendFileOnce(
  streams: StreamSource,
  filePath: string,
  size: number,
  peerId: string,
  listenerName: string,
  header: OpenHeader,
  options: TransmitFileOptions,
  signal: AbortSignal,
  started: number
): Promise<void> {
  const { stream, accept } = await openStream(streams, peerId, listenerName, header, options, signal)
  const onAbort = (): void => stream.close()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const offset = accept.offset ?? 0
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      throw new TransmissionError('protocol', `the receiver asked to resume at ${offset} of ${size} bytes`, {
        peerId
      })
    }
    const hash = createHash('sha256')
    if (offset > 0) {
      // The digest covers the whole file: what the receiver already holds is hashed here, not resent.
      for await (const chunk of createReadStream(filePath, {
        end: offset - 1,
        highWaterMark: CHUNK_SIZE,
        signal
      }))
        hash.update(chunk as Buffer)
    }
    let sent = offset
    const report = (): void => {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001)
      options.onProgress?.({ bytes: sent, total: size, rate: sent / seconds })
    }
    if (size > offset) {
      for await (const chunk of createReadStream(filePath, {
        start: offset,
        highWaterMark: CHUNK_SIZE,
        signal
      })) {
        const piece = chunk as Buffer
        hash.update(piece)
        await stream.write(
          FrameType.chunk,
          options.encrypt == null ? piece : await options.encrypt(piece),
          signal
        )
        sent += piece.byteLength
        report()
      }
    }
    if (sent !== size) {
      throw new TransmissionError(
        'internal',
        `${filePath} changed while it was sent (${sent} of ${size} bytes)`,
        {
          peerId
        }
      )
    }
    await stream.write(FrameType.end, hash.digest(), signal)
    await stream.expect([FrameType.done], signal)
    if (size === offset) report()
  } catch (error) {
    throw explain(error, signal, peerId, stream)
  } finally {
    signal.removeEventListener('abort', onAbort)
    stream.close()
  }
}
