import type { PeerStream } from '@tk/interface'
import { StreamClosedError, TransmissionError } from './errors.js'
import {
  type ErrorBody,
  FRAME_HEADER_BYTES,
  FrameType,
  type FrameTypeCode,
  frameHeader,
  frameTypeName,
  isErrorCode
} from './protocol.js'

export interface Frame {
  type: FrameTypeCode
  payload: Uint8Array
}

export interface FrameStreamInit {
  /** Largest payload accepted from the other side (bytes). */
  maxFrame: number
  /** No byte for this long → `idle-timeout` (ms). */
  idleTimeout: number
  /** The other peer, for error messages. */
  peerId?: string
}

/**
 * Bytes read ahead of what a reader asked for before reading the stream pauses: two chunk frames
 * (256 KiB + 64 KiB for `encrypt` each) and one read's worth, as before the bound stopped growing
 * with `maxFrame`, so a stream of chunks flows without a pause per frame; a conversation whose
 * frames may be 32 MiB no longer reads two of them ahead.
 */
const READ_AHEAD = 2 * (256 * 1024 + 64 * 1024) + 64 * 1024

/** Payloads from this size on are written as they are, not copied behind their header. */
const UNCOPIED_PAYLOAD = 16 * 1024
/** How long `close()` lets the stream end gracefully before it is aborted (ms). */
const CLOSE_TIMEOUT = 5_000

/**
 * Frames over one {@link PeerStream} (a libp2p stream, or a connection through a Kubo tunnel).
 * Reads are pull-based (nothing is read from the stream while its reader is {@link READ_AHEAD}
 * ahead, so a slow consumer slows the sender instead of filling memory); each write is one
 * `PeerStream.write` of whole frames, which waits under backpressure.
 */
export class FrameStream {
  readonly stream: PeerStream
  peerId: string | undefined
  #maxFrame: number
  #idleTimeout: number
  #chunks: Uint8Array[] = []
  #buffered = 0
  #ended = false
  #closed = false
  #failure: Error | undefined
  #wake: (() => void) | undefined
  /** Bytes the current read needs buffered (a whole frame); the read-ahead bound grows to fit it. */
  #wanted = 0
  /** Set while the pump waits for the reader (our side is the slow one). */
  #resumePump: (() => void) | undefined
  /** After the transmission: what still comes is read and dropped, until the peer closes. */
  #discarding = false
  readonly #watchers = new Set<{ onData: (bytes: number) => void; onPause: () => void }>()
  /** Frames that go out in front of the next write (see {@link defer}). */
  #deferred: Frame[] = []
  #markEnded: () => void = () => {}
  /** Resolves once the peer ended the stream, it failed, or it was closed (whoever closed it). */
  readonly ended: Promise<void>

  constructor(stream: PeerStream, init: FrameStreamInit) {
    this.stream = stream
    this.#maxFrame = init.maxFrame
    this.#idleTimeout = init.idleTimeout
    this.peerId = init.peerId
    this.ended = new Promise(resolve => {
      this.#markEnded = resolve
    })
    void this.#pump()
  }

  /** Reads the stream into the buffer, pausing while the reader is far enough behind. */
  async #pump(): Promise<void> {
    const iterator = this.stream[Symbol.asyncIterator]()
    try {
      for (;;) {
        if (!this.#discarding && this.#buffered >= this.#readAhead() && !this.#closed) {
          for (const watcher of this.#watchers) watcher.onPause()
          while (!this.#discarding && this.#buffered >= this.#readAhead() && !this.#closed) {
            await new Promise<void>(resolve => {
              this.#resumePump = resolve
            })
            this.#resumePump = undefined
          }
        }
        if (this.#closed) break
        const next = await iterator.next()
        if (next.done === true) break
        const chunk = next.value
        for (const watcher of this.#watchers) watcher.onData(chunk.byteLength)
        if (!this.#discarding) {
          this.#chunks.push(chunk)
          this.#buffered += chunk.byteLength
        }
        this.#notify()
      }
    } catch (error) {
      if (!this.#closed) this.#failure ??= error instanceof Error ? error : new Error(String(error))
    } finally {
      this.#ended = true
      this.#markEnded()
      this.#notify()
    }
  }

  /**
   * Tells `onData` the size of each piece that arrives and `onPause` each time reading stops
   * because our reader is behind (for rate checks that must not blame the peer for our slowness).
   * Returns the function that stops watching.
   */
  watch(onData: (bytes: number) => void, onPause: () => void): () => void {
    const watcher = { onData, onPause }
    this.#watchers.add(watcher)
    return () => this.#watchers.delete(watcher)
  }

  /** Whether reading is stopped because our reader is behind. */
  get paused(): boolean {
    return this.#resumePump != null
  }

  set maxFrame(value: number) {
    this.#maxFrame = value
  }

  /** 0 or Infinity: wait for the peer without limit (an open conversation may be quiet for hours). */
  get idleTimeout(): number {
    return this.#idleTimeout
  }

  set idleTimeout(value: number) {
    this.#idleTimeout = value
  }

  /**
   * After a failed write: the peer may have said why before it closed (an `error` frame we have
   * not read yet). Returns that as a remote error, or undefined.
   */
  bufferedError(): TransmissionError | undefined {
    try {
      for (;;) {
        if (this.#buffered < FRAME_HEADER_BYTES) return undefined
        const head = this.#peek(FRAME_HEADER_BYTES)
        const length = new DataView(head.buffer, head.byteOffset, FRAME_HEADER_BYTES).getUint32(1)
        if (this.#buffered < FRAME_HEADER_BYTES + length) return undefined
        const frame = this.#peek(FRAME_HEADER_BYTES + length)
        const type = frame[0]
        const payload = frame.slice(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length)
        this.#consume(FRAME_HEADER_BYTES + length)
        if (type === FrameType.error) return remoteError(payload, this.peerId)
      }
    } catch {
      return undefined
    }
  }

  /** Reads one line (Kubo's `--report-peer-id` line), at most `limit` bytes. */
  async readLine(limit: number, signal?: AbortSignal): Promise<string> {
    for (;;) {
      const joined = this.#peek()
      const newline = joined.indexOf(0x0a)
      if (newline >= 0) {
        this.#consume(newline + 1)
        return new TextDecoder().decode(joined.subarray(0, newline))
      }
      if (joined.byteLength > limit)
        throw new TransmissionError('protocol', `expected a line of at most ${limit} bytes`, {
          peerId: this.peerId
        })
      await this.#more(signal)
    }
  }

  /** The next `length` raw bytes, without consuming them (to tell protocols apart). */
  async peekBytes(length: number, signal?: AbortSignal): Promise<Uint8Array> {
    await this.#fill(length, signal)
    return this.#peek(length).slice(0, length)
  }

  /** Reads exactly `length` raw bytes (the preamble). */
  async readBytes(length: number, signal?: AbortSignal): Promise<Uint8Array> {
    await this.#fill(length, signal)
    const bytes = this.#peek(length).slice(0, length)
    this.#consume(length)
    return bytes
  }

  /** The next frame; an `error` frame from the other side is thrown as a remote `TransmissionError`. */
  async read(signal?: AbortSignal): Promise<Frame> {
    const { type, length } = await this.#frameHead(signal)
    const joined = this.#peek(FRAME_HEADER_BYTES + length)
    const payload = joined.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length)
    this.#consume(FRAME_HEADER_BYTES + length)
    if (type === FrameType.error) throw remoteError(payload, this.peerId)
    return { type: type as FrameTypeCode, payload }
  }

  /**
   * The next frame, which must be one of `types`, with its payload as the pieces it arrived in
   * rather than one copy of them: a chunk's 256 KiB come off the stream in pieces of up to 64 KiB,
   * and the receiver hashes and writes them as they are (half the bytes allocated and copied per
   * chunk, and so far fewer garbage collections). The pieces are the caller's; none is reused.
   */
  async expectPieces(
    types: readonly FrameTypeCode[],
    signal?: AbortSignal
  ): Promise<{ type: FrameTypeCode; pieces: Uint8Array[]; length: number }> {
    const { type, length } = await this.#frameHead(signal)
    if (type === FrameType.error || !types.includes(type as FrameTypeCode)) {
      // Rare: said as `read` and `expect` say it.
      const frame = await this.read(signal)
      throw this.#unexpected(types, frame.type)
    }
    this.#consume(FRAME_HEADER_BYTES)
    const pieces: Uint8Array[] = []
    let left = length
    while (left > 0) {
      const first = this.#chunks[0] as Uint8Array
      if (first.byteLength <= left) {
        pieces.push(first)
        this.#chunks.shift()
        left -= first.byteLength
      } else {
        pieces.push(first.subarray(0, left))
        this.#chunks[0] = first.subarray(left)
        left = 0
      }
    }
    this.#buffered -= length
    return { type: type as FrameTypeCode, pieces, length }
  }

  /** Waits until the next frame is buffered whole; its type and payload length (nothing consumed). */
  async #frameHead(signal?: AbortSignal): Promise<{ type: number; length: number }> {
    while (this.#buffered < FRAME_HEADER_BYTES) await this.#more(signal)
    const head = this.#peek(FRAME_HEADER_BYTES)
    const type = head[0] ?? 0
    const length = new DataView(head.buffer, head.byteOffset, FRAME_HEADER_BYTES).getUint32(1)
    if (frameTypeName(type) == null) {
      throw new TransmissionError('protocol', `unknown frame type 0x${type.toString(16)}`, {
        peerId: this.peerId
      })
    }
    if (length > this.#maxFrame) {
      throw new TransmissionError(
        'too-large',
        `a frame of ${length} bytes is beyond the limit of ${this.#maxFrame}`,
        {
          peerId: this.peerId
        }
      )
    }
    await this.#fill(FRAME_HEADER_BYTES + length, signal)
    return { type, length }
  }

  /** Reads a frame that must be one of `types`. */
  async expect(types: readonly FrameTypeCode[], signal?: AbortSignal): Promise<Frame> {
    const frame = await this.read(signal)
    if (!types.includes(frame.type)) throw this.#unexpected(types, frame.type)
    return frame
  }

  #unexpected(types: readonly FrameTypeCode[], type: FrameTypeCode): TransmissionError {
    return new TransmissionError(
      'protocol',
      `expected ${types.map(expected => frameTypeName(expected)).join(' or ')}, got ${frameTypeName(type)}`,
      { peerId: this.peerId }
    )
  }

  /**
   * Writes a frame; resolves when the stream has taken it (waits under backpressure; `signal`
   * ends only the wait: the frame is already queued whole, so the stream stays intact).
   */
  async write(
    type: FrameTypeCode,
    payload: Uint8Array = new Uint8Array(0),
    signal?: AbortSignal
  ): Promise<void> {
    await this.writeFrames([{ type, payload }], signal)
  }

  /**
   * Writes frames (and raw bytes, e.g. the preamble) as one `PeerStream.write`: a frame is never
   * split between writes, so writes from several callers (a conversation's messages and acks)
   * never interleave inside a frame.
   */
  async writeFrames(frames: ReadonlyArray<Frame | Uint8Array>, signal?: AbortSignal): Promise<void> {
    this.#checkWritable()
    signal?.throwIfAborted()
    if (this.#deferred.length > 0) {
      frames = [...this.#deferred, ...frames]
      this.#deferred = []
    }
    // Small pieces (headers, control frames) are joined into one buffer; a large payload (a
    // chunk) goes as it is, right behind, instead of being copied. The writes are all made
    // before any is awaited, and a PeerStream queues each write whole and in call order, so
    // frames from concurrent callers still never interleave.
    const parts: Uint8Array[] = []
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    const add = (bytes: Uint8Array): void => {
      pending.push(bytes)
      pendingBytes += bytes.byteLength
    }
    const flush = (): void => {
      if (pendingBytes === 0) return
      if (pending.length === 1) parts.push(pending[0] as Uint8Array)
      else {
        const joined = new Uint8Array(pendingBytes)
        let offset = 0
        for (const piece of pending) {
          joined.set(piece, offset)
          offset += piece.byteLength
        }
        parts.push(joined)
      }
      pending = []
      pendingBytes = 0
    }
    for (const frame of frames) {
      if (frame instanceof Uint8Array) {
        add(frame)
        continue
      }
      add(frameHeader(frame.type, frame.payload.byteLength))
      if (frame.payload.byteLength >= UNCOPIED_PAYLOAD) {
        flush()
        parts.push(frame.payload)
      } else add(frame.payload)
    }
    flush()
    const writes = parts.map(part => this.stream.write(part, { signal }))
    try {
      await Promise.all(writes)
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason
      throw new StreamClosedError('The stream to the peer closed while sending', this.peerId, {
        cause: this.#failure ?? error
      })
    }
  }

  /**
   * Sends `frame` in front of the next write instead of on its own: one write (one packet through
   * the tunnel, one wakeup of the peer) instead of two, when nothing lies between them that waits
   * for the peer. Dropped if the next thing sent is an error (`fail`) or the stream closes.
   */
  defer(frame: Frame): void {
    this.#checkWritable()
    this.#deferred.push(frame)
  }

  /** Whether frames wait in {@link defer} for the next write. */
  get deferring(): boolean {
    return this.#deferred.length > 0
  }

  /**
   * Whether the bytes already read hold whole frames up to and including a frame of `type`,
   * within the first `maxFrames` frames (nothing is consumed): reading that far waits for nothing.
   */
  bufferedThrough(type: FrameTypeCode, maxFrames: number): boolean {
    let offset = 0
    for (let index = 0; index < maxFrames; index++) {
      if (this.#buffered - offset < FRAME_HEADER_BYTES) return false
      const frameType = this.#byteAt(offset)
      let length = 0
      for (let byte = 1; byte < FRAME_HEADER_BYTES; byte++)
        length = length * 256 + this.#byteAt(offset + byte)
      offset += FRAME_HEADER_BYTES + length
      if (offset > this.#buffered) return false
      if (frameType === type) return true
    }
    return false
  }

  /** The buffered byte at `offset` (which must be below the buffered length). */
  #byteAt(offset: number): number {
    let left = offset
    for (const chunk of this.#chunks) {
      if (left < chunk.byteLength) return chunk[left] as number
      left -= chunk.byteLength
    }
    return 0
  }

  /** Writes raw bytes (the preamble, the Python toolkit's format). */
  async writeRaw(bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.writeFrames([bytes], signal)
  }

  async writeJson(type: FrameTypeCode, body: object, signal?: AbortSignal): Promise<void> {
    await this.write(type, new TextEncoder().encode(JSON.stringify(body)), signal)
  }

  /** Tells the other side why, best effort, then closes. */
  async fail(error: ErrorBody): Promise<void> {
    // The error is what the peer is to read next, not what was deferred in front of a success.
    this.#deferred = []
    if (!this.#closed && this.#failure == null) {
      const body = new TextEncoder().encode(JSON.stringify(error))
      const frame = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength)
      frame.set(frameHeader(FrameType.error, body.byteLength))
      frame.set(body, FRAME_HEADER_BYTES)
      // Not awaited: a peer that does not read must not hold our closing.
      this.stream.write(frame).catch(() => {})
      // Give Kubo a moment to carry the frame before the teardown that closing causes.
      await new Promise<void>(resolve => setTimeout(resolve, 50).unref())
    }
    this.close()
  }

  /** Waits (bounded) for the other side to close first, so our last frame is not cut off. */
  async closeAfterPeer(ms: number): Promise<void> {
    if (!this.#ended) {
      // What still comes is read and dropped, so a peer that writes on cannot hold us.
      this.#discarding = true
      this.#chunks = []
      this.#buffered = 0
      this.#resumePump?.()
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, ms)
        timer.unref()
        void this.ended.then(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    this.close()
  }

  /** Closes the stream (gracefully, then aborted if that takes too long). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#resumePump?.()
    this.#notify()
    this.stream.close({ timeout: CLOSE_TIMEOUT }).catch(() => this.stream.abort())
  }

  /** Ends the stream at once; the peer sees an error, not an end. */
  abort(error?: Error): void {
    this.#closed = true
    this.#resumePump?.()
    this.#notify()
    this.stream.abort(error)
  }

  get closed(): boolean {
    return this.#closed || this.#ended
  }

  #checkWritable(): void {
    if (this.#closed || this.#failure != null) {
      throw new StreamClosedError('The stream to the peer is closed', this.peerId, { cause: this.#failure })
    }
  }

  /** The buffered bytes from the start, at least `length` of them contiguous (merging only what is needed). */
  #peek(length = this.#buffered): Uint8Array {
    const first = this.#chunks[0]
    if (first != null && first.byteLength >= length) return first
    const merged = new Uint8Array(Math.max(length, 0))
    let offset = 0
    let used = 0
    for (const chunk of this.#chunks) {
      if (offset >= length) break
      const take = Math.min(chunk.byteLength, length - offset)
      merged.set(chunk.subarray(0, take), offset)
      offset += take
      if (take < chunk.byteLength) {
        this.#chunks[used] = chunk.subarray(take)
        break
      }
      used++
    }
    this.#chunks.splice(0, used, merged)
    return merged
  }

  #consume(length: number): void {
    let left = length
    while (left > 0) {
      const first = this.#chunks[0]
      if (first == null) break
      if (first.byteLength <= left) {
        this.#chunks.shift()
        left -= first.byteLength
      } else {
        this.#chunks[0] = first.subarray(left)
        left = 0
      }
    }
    this.#buffered -= length
  }

  /** Waits until `length` bytes are buffered, letting the stream be read that far ahead. */
  async #fill(length: number, signal?: AbortSignal): Promise<void> {
    if (this.#buffered >= length) return
    this.#wanted = length
    try {
      while (this.#buffered < length) await this.#more(signal)
    } finally {
      this.#wanted = 0
    }
  }

  #readAhead(): number {
    return Math.max(this.#wanted, READ_AHEAD)
  }

  async #more(signal?: AbortSignal): Promise<void> {
    if (this.#failure != null) {
      throw new StreamClosedError(`The stream to the peer failed: ${this.#failure.message}`, this.peerId, {
        cause: this.#failure
      })
    }
    if (this.#ended)
      throw new StreamClosedError('The peer closed the stream before the transmission finished', this.peerId)
    if (this.#closed)
      throw new StreamClosedError('The stream to the peer is closed', this.peerId, { cause: this.#failure })
    signal?.throwIfAborted()
    this.#resumePump?.()
    await new Promise<void>((resolve, reject) => {
      const timer = !(this.#idleTimeout > 0 && Number.isFinite(this.#idleTimeout))
        ? undefined
        : setTimeout(() => {
            cleanup()
            reject(
              new TransmissionError('idle-timeout', `no data from the peer for ${this.#idleTimeout} ms`, {
                peerId: this.peerId
              })
            )
          }, this.#idleTimeout)
      const onAbort = (): void => {
        cleanup()
        reject(signal?.reason)
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#wake = undefined
      }
      this.#wake = () => {
        cleanup()
        resolve()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #notify(): void {
    this.#wake?.()
  }
}

function remoteError(payload: Uint8Array, peerId: string | undefined): TransmissionError {
  try {
    const body = JSON.parse(new TextDecoder().decode(payload)) as Partial<ErrorBody>
    const code = isErrorCode(body.code) ? body.code : 'internal'
    const message = typeof body.message === 'string' ? body.message.slice(0, 500) : 'no reason given'
    return new TransmissionError(code, `The peer refused: ${message} (${code})`, { remote: true, peerId })
  } catch {
    return new TransmissionError('protocol', 'The peer sent an unreadable error frame', {
      remote: true,
      peerId
    })
  }
}
