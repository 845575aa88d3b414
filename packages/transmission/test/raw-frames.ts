// Tests that play a hostile or hand-written sender write the wire format (PROTOCOL.md) by hand, so
// that a bug in src/protocol.ts cannot hide behind the same bug in the test.

export const PREAMBLE = Buffer.of(0x00, 0x74, 0x6b, 0x74, 0x01)

export const Type = {
  open: 0x01,
  accept: 0x02,
  error: 0x03,
  chunk: 0x04,
  end: 0x05,
  done: 0x06,
  message: 0x10,
  messageAck: 0x11,
  close: 0x12,
  fileOpen: 0x13,
  fileChunk: 0x14,
  fileEnd: 0x15,
  fileDone: 0x16
} as const

/** One frame: type u8, length u32 big-endian, payload. */
export function frame(type: number, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = Buffer.from(payload)
  const header = Buffer.alloc(5)
  header[0] = type
  header.writeUInt32BE(body.byteLength, 1)
  return Buffer.concat([header, body])
}

export function jsonFrame(type: number, body: unknown): Buffer {
  return frame(type, JSON.stringify(body))
}
