/**
 * The byte-level pieces of the Python IPFS-Toolkit's wire format (PyPI `IPFS-Toolkit` 0.5.x,
 * `ipfs_tk_transmission/utils.py`): base-255 lengths with no zero digit, the NUL-terminated length
 * prefix, the request checksum byte and 0xFF-separated fields.
 */

/** Separates fields inside a Python payload; never escaped on their side. */
export const FIELD_SEPARATOR = 0xff

/**
 * `n` as big-endian base-255 digits, each stored as digit + 1 so that no byte is 0 (the 0 ends
 * the length prefix): 1 → `02`, 254 → `ff`, 255 → `02 01`. 0 is the empty array.
 */
export function encodeB255(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} in base 255`)
  const digits: number[] = []
  let rest = value
  while (rest > 0) {
    digits.unshift((rest % 255) + 1)
    rest = Math.floor(rest / 255)
  }
  return Uint8Array.from(digits)
}

/** The number `digits` (from {@link encodeB255}) stand for; throws on a 0 byte or a number beyond 2^53. */
export function decodeB255(digits: Uint8Array): number {
  let value = 0
  for (const digit of digits) {
    if (digit === 0) throw new RangeError('a base-255 digit cannot be 0')
    value = value * 255 + (digit - 1)
    if (!Number.isSafeInteger(value)) throw new RangeError('a base-255 number beyond 2^53')
  }
  return value
}

/** How many base-255 digits a length up to `max` needs: reading more than that is refused early. */
export function b255DigitsFor(max: number): number {
  return Math.max(encodeB255(max).byteLength, 1)
}

/**
 * One Python frame in one buffer: `b255(length) 0x00 payload`. It must go out in ONE write: the
 * Python receiver throws away a first chunk that holds no 0x00.
 */
export function encodePythonFrame(payload: Uint8Array): Uint8Array {
  const prefix = encodeB255(payload.byteLength)
  const frame = new Uint8Array(prefix.byteLength + 1 + payload.byteLength)
  frame.set(prefix)
  frame.set(payload, prefix.byteLength + 1)
  return frame
}

/** The request's integrity byte: the sum of the bytes modulo 256 (it catches no reordering). */
export function checksumByte(bytes: Uint8Array): number {
  let sum = 0
  for (const byte of bytes) sum = (sum + byte) % 256
  return sum
}

/** `bytes` with its checksum byte in front, as a Python transmission request carries it. */
export function withChecksum(bytes: Uint8Array): Uint8Array {
  const result = new Uint8Array(bytes.byteLength + 1)
  result[0] = checksumByte(bytes)
  result.set(bytes, 1)
  return result
}

/** Joins fields with 0xFF, as the Python side does (callers make sure no field holds a 0xFF). */
export function joinFields(fields: readonly Uint8Array[]): Uint8Array {
  const length = fields.reduce((total, field) => total + field.byteLength, 0) + Math.max(fields.length - 1, 0)
  const result = new Uint8Array(length)
  let offset = 0
  fields.forEach((field, index) => {
    if (index > 0) result[offset++] = FIELD_SEPARATOR
    result.set(field, offset)
    offset += field.byteLength
  })
  return result
}

/**
 * Splits at the first `count - 1` separators: the last field keeps any 0xFF it holds (metadata
 * may). Returns undefined when there are fewer separators than that.
 */
export function splitFields(bytes: Uint8Array, count: number): Uint8Array[] | undefined {
  const fields: Uint8Array[] = []
  let start = 0
  while (fields.length < count - 1) {
    const separator = bytes.indexOf(FIELD_SEPARATOR, start)
    if (separator < 0) return undefined
    fields.push(bytes.subarray(start, separator))
    start = separator + 1
  }
  fields.push(bytes.subarray(start))
  return fields
}

const encoder = new TextEncoder()

export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/** Strict UTF-8 decoding: undefined for bytes that are not UTF-8 (a peer's names must be). */
export function fromUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}

export function equalBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.byteLength === right.byteLength && left.every((byte, index) => byte === right[index])
}
