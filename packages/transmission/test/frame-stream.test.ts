import { randomBytes } from 'node:crypto'
import type { PeerStream } from '@tk/interface'
import { describe, expect, it } from 'vitest'
import { TransmissionError } from '../src/errors.js'
import { FrameStream } from '../src/frame-stream.js'
import { FrameType, type FrameTypeCode, frameHeader } from '../src/protocol.js'

// Unit tests of FrameStream's reading, on a stub PeerStream (an async iterable of given pieces,
// no Kubo and no socket): what matters here is how frames are cut out of the pieces.

/** A PeerStream whose reads yield `pieces` in turn, then end; writes go to `written`. */
function stubStream(pieces: Uint8Array[], written: Uint8Array[] = []): PeerStream {
  return {
    remotePeerId: 'peer',
    async *[Symbol.asyncIterator]() {
      for (const piece of pieces) yield piece
    },
    write: async data => void written.push(Uint8Array.from(data)),
    closeWrite: async () => {},
    close: async () => {},
    abort: () => {},
    [Symbol.asyncDispose]: async () => {}
  }
}

/** `bytes` cut into pieces of `size` (the last may be shorter). */
function cut(bytes: Uint8Array, size: number): Uint8Array[] {
  const pieces: Uint8Array[] = []
  for (let offset = 0; offset < bytes.byteLength; offset += size)
    pieces.push(bytes.subarray(offset, offset + size))
  return pieces
}

function frameBytes(type: FrameTypeCode, payload: Uint8Array): Uint8Array {
  return Buffer.concat([frameHeader(type, payload.byteLength), payload])
}

describe('FrameStream.expectPieces', () => {
  it('hands a chunk out as the pieces it arrived in (views of them, not a copy), byte-exact, frames split anywhere', async () => {
    const first = randomBytes(256 * 1024)
    const second = randomBytes(256 * 1024 - 1)
    const digest = randomBytes(32)
    const wire = Buffer.concat([
      frameBytes(FrameType.chunk, first),
      frameBytes(FrameType.chunk, second),
      frameBytes(FrameType.end, digest)
    ])
    // 64 KiB pieces, as a socket reads them, but shifted by 3 bytes: headers straddle pieces.
    const source = [wire.subarray(0, 3), ...cut(wire.subarray(3), 64 * 1024)]
    const stream = new FrameStream(stubStream(source), { maxFrame: 320 * 1024, idleTimeout: 0 })
    const frames = []
    for (let index = 0; index < 3; index++) {
      frames.push(await stream.expectPieces([FrameType.chunk, FrameType.end]))
    }
    expect(frames.map(frame => frame.type)).toEqual([FrameType.chunk, FrameType.chunk, FrameType.end])
    expect(Buffer.concat(frames[0]?.pieces ?? []).equals(first)).toBe(true)
    expect(frames[0]?.length).toBe(first.byteLength)
    expect(Buffer.concat(frames[1]?.pieces ?? []).equals(second)).toBe(true)
    expect(frames[1]?.length).toBe(second.byteLength)
    expect(Buffer.concat(frames[2]?.pieces ?? []).equals(digest)).toBe(true)
    // A 256 KiB chunk from 64 KiB reads: several pieces, each a view of the bytes as read.
    expect(frames[0]?.pieces.length).toBeGreaterThan(1)
    for (const piece of [...(frames[0]?.pieces ?? []), ...(frames[1]?.pieces ?? [])]) {
      expect(piece.buffer).toBe(wire.buffer)
    }
  })

  it('an empty chunk is a frame with no pieces and length 0', async () => {
    const wire = Buffer.concat([
      frameBytes(FrameType.chunk, new Uint8Array(0)),
      frameBytes(FrameType.end, randomBytes(32))
    ])
    const stream = new FrameStream(stubStream([wire]), { maxFrame: 1024, idleTimeout: 0 })
    const frame = await stream.expectPieces([FrameType.chunk])
    expect(frame).toMatchObject({ type: FrameType.chunk, length: 0, pieces: [] })
    expect((await stream.expectPieces([FrameType.end])).length).toBe(32)
  })

  it('a frame of another type is a protocol error, an error frame the peer’s error, a frame over maxFrame too-large', async () => {
    const other = new FrameStream(stubStream([frameBytes(FrameType.done, new Uint8Array(0))]), {
      maxFrame: 1024,
      idleTimeout: 0
    })
    await expect(other.expectPieces([FrameType.chunk, FrameType.end])).rejects.toMatchObject({
      name: 'TransmissionError',
      code: 'protocol'
    })
    const said = new TextEncoder().encode(JSON.stringify({ code: 'busy', message: 'try later' }))
    const refused = new FrameStream(stubStream(cut(frameBytes(FrameType.error, said), 7)), {
      maxFrame: 1024,
      idleTimeout: 0
    })
    const error = await refused.expectPieces([FrameType.chunk]).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TransmissionError)
    expect(error).toMatchObject({ code: 'busy', remote: true })
    const large = new FrameStream(stubStream([frameBytes(FrameType.chunk, new Uint8Array(1025))]), {
      maxFrame: 1024,
      idleTimeout: 0
    })
    await expect(large.expectPieces([FrameType.chunk])).rejects.toMatchObject({ code: 'too-large' })
  })
})

describe('FrameStream.bufferedThrough and defer', () => {
  it('tells whether whole frames up to a type are buffered, without consuming them', async () => {
    const wire = Buffer.concat([
      frameBytes(FrameType.chunk, randomBytes(1000)),
      frameBytes(FrameType.end, randomBytes(32))
    ])
    const whole = new FrameStream(stubStream(cut(wire, 100)), { maxFrame: 1024, idleTimeout: 0 })
    await whole.ended
    expect(whole.bufferedThrough(FrameType.end, 8)).toBe(true)
    // Only the first frame looked at: `end` is the second.
    expect(whole.bufferedThrough(FrameType.end, 1)).toBe(false)
    expect((await whole.expectPieces([FrameType.chunk])).length).toBe(1000)
    const cutShort = new FrameStream(stubStream([wire.subarray(0, wire.byteLength - 1)]), {
      maxFrame: 1024,
      idleTimeout: 0
    })
    await cutShort.ended
    expect(cutShort.bufferedThrough(FrameType.end, 8)).toBe(false)
  })

  it('a deferred frame goes out in front of the next write, in the same write; fail() drops it', async () => {
    const written: Uint8Array[] = []
    const stream = new FrameStream(stubStream([], written), { maxFrame: 1024, idleTimeout: 0 })
    stream.defer({ type: FrameType.accept, payload: new TextEncoder().encode('{}') })
    expect(stream.deferring).toBe(true)
    expect(written).toEqual([])
    await stream.write(FrameType.done)
    expect(written.map(bytes => [...bytes])).toEqual([
      [FrameType.accept, 0, 0, 0, 2, 0x7b, 0x7d, FrameType.done, 0, 0, 0, 0]
    ])
    expect(stream.deferring).toBe(false)
    const failing = new FrameStream(stubStream([], written), { maxFrame: 1024, idleTimeout: 0 })
    written.length = 0
    failing.defer({ type: FrameType.accept, payload: new Uint8Array(0) })
    await failing.fail({ code: 'busy', message: 'no' })
    expect(written.length).toBe(1)
    expect(written[0]?.[0]).toBe(FrameType.error)
  })
})
