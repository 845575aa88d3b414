import { TransmissionError } from '../errors.js'
import type { FrameStream } from '../frame-stream.js'
import { b255DigitsFor, decodeB255, FIELD_SEPARATOR, fromUtf8, splitFields, utf8 } from './b255.js'

/** The value of `protocol` that makes a sender speak the Python IPFS-Toolkit's wire format. */
export const PYTHON_PROTOCOL = 'ipfs-toolkit-py'

/** The listener's reply to a request, followed (unframed) by the name of the one-off data tunnel. */
export const REQUEST_ACCEPTED = 'Transmission request accepted.'
/** What a Python listener answers when it does not take a request. */
export const REQUEST_REFUSED = 'Transmission request not accepted.'
/** The receiver's unframed reply once the data frame is complete. */
export const FINISHED = 'Finished!'
export const CONVERSATION_REQUEST = 'I want to start a conversation'
export const CONVERSATION_JOINED = "I'm listening"
/** What a Python file receiver says after the file header, to let the blocks come. */
export const FILE_READY = 'ready'
/** Bytes per file block the Python toolkit sends (and we send to it), each a whole transmission. */
export const PYTHON_BLOCK_SIZE = 1024 * 1024

/** A request holds a checksum byte and a peer id: anything longer is not one. */
export const MAX_REQUEST_BYTES = 512
/** Longest accept reply we read: the 30-byte text and a tunnel name. */
const MAX_REPLY_BYTES = REQUEST_ACCEPTED.length + 64
/** The reply has no length: once it started, this much quiet (ms) means it is complete. */
const REPLY_QUIET_MS = 150
/** Longest conversation or listener name we take from a Python peer (Kubo protocol names are short). */
export const MAX_NAME_LENGTH = 256

/**
 * Reads one `b255(length) 0x00 payload` frame, refusing lengths beyond `maxLength` before reading
 * the payload (`too-large`), and prefixes with more digits than such a length needs.
 */
export async function readPythonFrame(
  stream: FrameStream,
  maxLength: number,
  signal: AbortSignal
): Promise<Uint8Array> {
  const maxDigits = b255DigitsFor(maxLength)
  const digits: number[] = []
  for (;;) {
    const [byte = 0] = await stream.readBytes(1, signal)
    if (byte === 0) break
    digits.push(byte)
    if (digits.length > maxDigits) {
      throw new TransmissionError('too-large', `a length prefix of more than ${maxDigits} digits`, {
        peerId: stream.peerId
      })
    }
  }
  const length = decodeB255(Uint8Array.from(digits))
  if (length > maxLength) {
    throw new TransmissionError('too-large', `${length} bytes is beyond this side's limit of ${maxLength}`, {
      peerId: stream.peerId
    })
  }
  // A plain Uint8Array of its own: the stream's bytes may be a Buffer view of a socket chunk.
  return length === 0 ? new Uint8Array(0) : new Uint8Array(await stream.readBytes(length, signal))
}

/**
 * Reads a reply that has no length prefix (the Python side writes it in one piece and may leave
 * the connection open): at least `min` bytes, then whatever follows until `REPLY_QUIET_MS` of
 * quiet, the end of the stream, or `max` bytes.
 */
export async function readUnframed(
  stream: FrameStream,
  min: number,
  max: number,
  signal: AbortSignal
): Promise<Uint8Array> {
  await stream.peekBytes(min, signal)
  let have = min
  // One quiet signal per reply, re-armed after each byte (a signal per byte would pile up
  // listeners on the caller's long-lived signal).
  const quiet = new AbortController()
  const waiting = AbortSignal.any([signal, quiet.signal])
  let timer = setTimeout(() => quiet.abort(), REPLY_QUIET_MS)
  try {
    while (have < max) {
      try {
        await stream.peekBytes(have + 1, waiting)
      } catch (error) {
        if (signal.aborted) throw error
        // Quiet for a moment, or the peer closed: the reply is what we have.
        break
      }
      have++
      clearTimeout(timer)
      timer = setTimeout(() => quiet.abort(), REPLY_QUIET_MS)
    }
  } finally {
    clearTimeout(timer)
  }
  return await stream.readBytes(have, signal)
}

/** Reads a Python listener's answer to our request; resolves with the data tunnel's name. */
export async function readAcceptReply(stream: FrameStream, signal: AbortSignal): Promise<string> {
  const reply = await readUnframed(stream, REQUEST_ACCEPTED.length + 1, MAX_REPLY_BYTES, signal)
  const text = fromUtf8(reply) ?? ''
  if (!text.startsWith(REQUEST_ACCEPTED)) {
    throw new TransmissionError(
      'rejected',
      text.startsWith(REQUEST_REFUSED)
        ? 'The Python listener did not accept the transmission request'
        : 'The Python listener answered something that is not a transmission reply',
      { remote: true, peerId: stream.peerId }
    )
  }
  const name = text.slice(REQUEST_ACCEPTED.length)
  // The Python side names the tunnel after its TCP port; anything else would be ours to forward to.
  if (!/^[0-9]{1,5}$/.test(name)) {
    throw new TransmissionError(
      'protocol',
      `The Python listener named an unusable data tunnel "${name.slice(0, 40)}"`,
      {
        remote: true,
        peerId: stream.peerId
      }
    )
  }
  return name
}

/** A conversation handshake message: the request or the join, old (unversioned) or versioned form. */
export interface Handshake {
  /** The conversation (request) or the joiner's own listener (join). */
  name: string
  /** The versioned form's optional salutation bytes. */
  salutation: Uint8Array
}

/**
 * Parses `prelude 0xFF name` (every version) or `0xFF 0x00 0xFF prelude 0xFF name 0xFF salutation`
 * (the versioned form of ipfs_tk); undefined when `bytes` is not that handshake.
 */
export function parseHandshake(bytes: Uint8Array, prelude: string): Handshake | undefined {
  const expected = utf8(prelude)
  let name: Uint8Array | undefined
  let salutation: Uint8Array = new Uint8Array(0)
  if (bytes[0] === FIELD_SEPARATOR) {
    const fields = splitFields(bytes.subarray(1), 4)
    if (fields == null) return undefined
    const [version, given, named, rest] = fields
    if (version?.byteLength !== 1 || version[0] !== 0 || given == null || !sameBytes(given, expected)) {
      return undefined
    }
    name = named
    salutation = rest ?? salutation
  } else {
    const fields = splitFields(bytes, 2)
    if (fields == null) return undefined
    const [given, named] = fields
    if (given == null || !sameBytes(given, expected)) return undefined
    name = named
  }
  const text = name == null ? undefined : fromUtf8(name)
  // A name only ever becomes a protocol we forward to on that peer's own node; Kubo takes any
  // printable text there, but a control character in it can only be mischief.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (text == null || text === '' || text.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(text)) {
    return undefined
  }
  return { name: text, salutation }
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.byteLength === right.byteLength && left.every((byte, index) => byte === right[index])
}
