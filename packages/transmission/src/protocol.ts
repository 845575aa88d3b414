/**
 * The wire protocol, version 1 (PROTOCOL.md says the same in prose). One libp2p stream per
 * transmission; after the sender's 5-byte preamble both sides exchange frames:
 * `type: u8 | length: u32 big-endian | payload`.
 */

/** The sender's first bytes: NUL, "tkt", version. NUL never starts a Python IPFS-Toolkit request. */
export const PREAMBLE = Uint8Array.of(0x00, 0x74, 0x6b, 0x74, 0x01)
export const PROTOCOL_VERSION = 1
export const FRAME_HEADER_BYTES = 5

export const FrameType = {
  /** S→R, JSON {@link OpenHeader}: what is coming. */
  open: 0x01,
  /** R→S, JSON {@link AcceptHeader}: go ahead. */
  accept: 0x02,
  /** Either side, JSON {@link ErrorBody}: refused or failed; the stream closes after it. */
  error: 0x03,
  /** S→R: the next piece of content (encrypted if the sender encrypts). */
  chunk: 0x04,
  /** S→R: 32 bytes, SHA-256 of the whole plaintext content. */
  end: 0x05,
  /** R→S, empty: content received, digest matched, stored. The only "delivered". */
  done: 0x06,
  /** Conversation, both ways: u32 message id, then the payload. */
  message: 0x10,
  /** Conversation: u32 id of the message received. */
  messageAck: 0x11,
  /** Conversation: JSON {@link CloseBody}; the sender of it will not write again. */
  close: 0x12,
  /** Conversation: JSON {@link FileOpenHeader}: a file follows. */
  fileOpen: 0x13,
  /** Conversation: u32 file id, then the next piece of the file. */
  fileChunk: 0x14,
  /** Conversation: u32 file id, then 32 bytes SHA-256 of the whole file. */
  fileEnd: 0x15,
  /** Conversation: JSON {@link FileDoneBody}: stored (or why not). */
  fileDone: 0x16
} as const

export type FrameTypeName = keyof typeof FrameType
export type FrameTypeCode = (typeof FrameType)[FrameTypeName]

const NAMES = new Map<number, FrameTypeName>(
  Object.entries(FrameType).map(([name, code]) => [code, name as FrameTypeName])
)

export function frameTypeName(code: number): FrameTypeName | undefined {
  return NAMES.get(code)
}

export type TransmissionKind = 'data' | 'file' | 'conversation'

export interface OpenHeader {
  kind: TransmissionKind
  /** Plaintext bytes that follow (data, file). */
  size?: number
  /** File name (file) or conversation name (conversation). */
  name?: string
  /** Base64 of the sender's metadata bytes (file). */
  metadata?: string
  /** Whether the sender can continue a file from an offset the receiver names. */
  resume?: boolean
  /**
   * Data: the sender may send the next transmission on this stream after `done` (no preamble,
   * its `open` first). A listener that does not answer `reuse` in `accept` is served as before.
   */
  reuse?: boolean
  /**
   * Data with `reuse`: this message's id (16 random bytes, base64url). A message sent again on
   * a fresh stream after its stream broke has the same id; a listener that delivered it already
   * answers `done` without delivering it twice.
   */
  id?: string
}

export interface AcceptHeader {
  /** File: the receiver already holds this many bytes of it; the sender continues from there. */
  offset?: number
  /** Largest frame payload the receiver takes. */
  maxFrame: number
  /** The sender offered `reuse` and the receiver takes the next transmission on this stream. */
  reuse?: boolean
}

export interface ErrorBody {
  code: ErrorCode
  message: string
}

export interface CloseBody {
  reason?: string
}

export interface FileOpenHeader {
  id: number
  name: string
  size: number
  metadata?: string
}

export interface FileDoneBody {
  id: number
  ok: boolean
  code?: ErrorCode
  message?: string
}

/** Why a transmission failed; sent in `error` frames and carried by `TransmissionError`. */
export const ERROR_CODES = [
  /** The preamble or version is not ours. */
  'unsupported-version',
  /** A frame that makes no sense here: unknown type, bad JSON, out of order. */
  'protocol',
  /** A frame, message, header or file beyond the receiver's limits. */
  'too-large',
  /** The listener serves its maximum of transmissions at once; try again later. */
  'busy',
  /** The listener's `allow` hook refused this peer. */
  'forbidden',
  /** The listener serves another kind (e.g. a file sent to a data listener). */
  'wrong-kind',
  /** A conversation the other side did not join. */
  'declined',
  /** The content's SHA-256 differs from the sender's: nothing was stored. */
  'digest-mismatch',
  /** Decryption (or the handler) failed on the receiver. */
  'rejected',
  /** No byte for longer than the idle timeout. */
  'idle-timeout',
  /** The side that sent it was aborted or closed. */
  'aborted',
  /** Anything else on the receiver (disk full, …). */
  'internal'
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
}

/** Encodes one frame's header; the payload is written after it unchanged (no copy). */
export function frameHeader(type: FrameTypeCode, length: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_BYTES)
  header[0] = type
  new DataView(header.buffer).setUint32(1, length)
  return header
}

/** A whole frame in one buffer, for small frames. */
export function encodeFrame(type: FrameTypeCode, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength)
  frame.set(frameHeader(type, payload.byteLength))
  frame.set(payload, FRAME_HEADER_BYTES)
  return frame
}

export function encodeJsonFrame(type: FrameTypeCode, body: object): Uint8Array {
  return encodeFrame(type, new TextEncoder().encode(JSON.stringify(body)))
}

/** A u32 id followed by bytes, for `message`, `fileChunk`, `fileEnd`. */
export function withId(id: number, payload: Uint8Array): Uint8Array {
  const result = new Uint8Array(4 + payload.byteLength)
  new DataView(result.buffer).setUint32(0, id)
  result.set(payload, 4)
  return result
}

export function readId(payload: Uint8Array): { id: number; rest: Uint8Array } {
  if (payload.byteLength < 4) throw new RangeError('frame too short for its id')
  const id = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0)
  return { id, rest: payload.subarray(4) }
}
