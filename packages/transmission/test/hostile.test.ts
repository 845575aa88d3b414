import { createHash, randomBytes, randomInt } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { P2pForegroundTunnel } from '@tk/rpc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  listenForFileTransmissions,
  listenForTransmissions,
  MAX_FILE_NAME_BYTES,
  type ReceivedFile,
  sanitizeFileName,
  transmitData
} from '../src/index.js'
import { type IpfsToolkitPy, ipfsToolkitPy } from '../src/python/index.js'
import { type Pair, sha256, sha256File, startPair } from './helpers.js'
import { errorCodeOf, frame, jsonFrame, PREAMBLE, RawConnection, Type } from './raw-frames.js'

// The wire format is written out here by hand (not imported from src/protocol.ts), so these tests
// check the listener against the protocol as documented, not against its own encoder.
const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(Type))
/**
 * How a listener may refuse random bytes it takes for a Python IPFS-Toolkit request: a length
 * prefix too long, a bad checksum, a peer id not the one Kubo authenticated, a frame cut short,
 * or more such requests from this peer at once than the plug-in's `concurrencyPerPeer` (busy).
 */
const FOREIGN_REFUSALS: readonly string[] = ['too-large', 'protocol', 'forbidden', 'idle-timeout', 'busy']
/** Small chunks, so a file in the names test takes several chunk frames. */
const CHUNK_TEST_SIZE = 1000

function digest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

let pair: Pair
let tmp: string
/** The Python IPFS-Toolkit's format on node B's listeners, so that bytes of another protocol meet it. */
let pyB: IpfsToolkitPy

beforeAll(async () => {
  ;[pair, tmp] = await Promise.all([startPair(), fs.mkdtemp(path.join(os.tmpdir(), 'tk-hostile-'))])
  pyB = ipfsToolkitPy({ client: pair.b.ipfs.client })
})

afterAll(async () => {
  await pyB?.close()
  await pair?.stop()
  await fs.rm(tmp, { recursive: true, force: true })
})

/** A forward tunnel from A to `protocol` on B that the test dials itself; closed with `await using`. */
async function rawForward(protocol: string): Promise<P2pForegroundTunnel & { port: number }> {
  const tunnel = await pair.a.ipfs.client.p2p.forward(
    protocol,
    '/ip4/127.0.0.1/tcp/0',
    `/p2p/${pair.b.node.peerId}`,
    { foreground: true }
  )
  const port = Number(/\/tcp\/(\d+)/.exec(tunnel.listenAddress)?.[1])
  expect(port).toBeGreaterThan(0)
  return Object.assign(tunnel, { port })
}

/** Every file under `directory`, relative to it, sorted. */
async function tree(directory: string): Promise<string[]> {
  const entries = await fs.readdir(directory, { recursive: true, withFileTypes: true })
  return entries
    .filter(entry => entry.isFile())
    .map(entry => path.relative(directory, path.join(entry.parentPath, entry.name)))
    .sort()
}

function countCodes(errors: Array<{ code?: unknown; name: string }>): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const error of errors) {
    const key = typeof error.code === 'string' ? error.code : error.name
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

describe('sanitizeFileName', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['/etc/passwd', 'passwd'],
    ['..', 'unnamed'],
    ['.', 'unnamed'],
    ['...', 'unnamed'],
    ['', 'unnamed'],
    ['a/..', 'unnamed'],
    ['a\u0000b', 'ab'],
    ['line\nbreak\r.txt', 'linebreak.txt'],
    ['bell\u0007esc\u001bdel\u007fc1\u0085\u009f.txt', 'bellescdelc1.txt'],
    ['\\windows\\path.txt', 'path.txt'],
    ['C:\\Users\\me\\..\\..\\boot.ini', 'boot.ini'],
    ['dir/sub/', 'sub'],
    ['.bashrc', 'bashrc'],
    ['  padded name.txt  ', 'padded name.txt'],
    ['résumé 履歴書 🚀.pdf', 'résumé 履歴書 🚀.pdf']
  ])('%j becomes %j', (wire, safe) => {
    expect(sanitizeFileName(wire)).toBe(safe)
  })

  it.each([
    ['ascii', `${'a'.repeat(1000)}.txt`, '.txt'],
    ['two-byte', `${'é'.repeat(1000)}.pdf`, '.pdf'],
    ['astral (surrogate pairs)', `${'🚀'.repeat(1000)}.png`, '.png'],
    ['three-byte extension', `${'x'.repeat(1000)}.履歴`, '.履歴']
  ])(
    'a 1000-character %s name is cut to at most 200 UTF-8 bytes, keeping its extension',
    (_kind, wire, extension) => {
      const safe = sanitizeFileName(wire)
      const bytes = Buffer.byteLength(safe, 'utf8')
      expect(MAX_FILE_NAME_BYTES).toBe(200)
      expect(bytes).toBeLessThanOrEqual(200)
      // Cut close to the limit, not far below it (a code point is at most 4 bytes).
      expect(bytes).toBeGreaterThan(200 - 4)
      expect(safe.endsWith(extension)).toBe(true)
      expect(wire.startsWith(safe.slice(0, -extension.length))).toBe(true)
      // No half of a surrogate pair left behind: the name survives a UTF-8 round trip unchanged.
      expect(Buffer.from(safe, 'utf8').toString('utf8')).toBe(safe)
    }
  )

  it('cuts a name as long as an open frame allows in linear time (a peer must not stall the listener)', () => {
    // An `open` frame may carry up to 64 KiB, so a sender picks the name's length; 20 000 characters
    // is well inside that. A linear cut takes a few milliseconds at most (the quadratic one seconds).
    const started = performance.now()
    const safe = sanitizeFileName(`${'a'.repeat(20_000)}.txt`)
    const elapsed = performance.now() - started
    expect(safe).toBe(`${'a'.repeat(196)}.txt`)
    expect(elapsed).toBeLessThan(250)
  })
})

describe('a hostile sender, byte by byte', () => {
  it('file names from the wire land inside the listener’s directory, sanitized', async () => {
    const { b } = pair
    // Deep enough that `../../` from the inbox is still inside `tmp`, where we can look.
    const inbox = path.join(tmp, 'names', 'deep', 'inbox')
    await fs.mkdir(inbox, { recursive: true })
    const received: ReceivedFile[] = []
    await using _listener = await listenForFileTransmissions('names', file => void received.push(file), {
      ipfs: b.ipfs,
      directory: inbox
    })
    await using tunnel = await rawForward('/x/names')
    const hostileNames = [
      ['../../evil.txt', 'evil.txt'],
      [path.join(tmp, 'names', 'absolute.txt'), 'absolute.txt'],
      ['..\\..\\backslash.txt', 'backslash.txt'],
      ['..', 'unnamed'],
      ['.profile', 'profile'],
      ['nul\u0000byte\n.txt', 'nulbyte.txt']
    ] as const
    const contents = new Map<string, string>()
    for (const [wireName, safeName] of hostileNames) {
      const content = randomBytes(CHUNK_TEST_SIZE * 2 + 123)
      contents.set(safeName, sha256(content))
      const raw = await RawConnection.open(tunnel.port)
      try {
        raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name: wireName, size: content.byteLength }))
        const accept = await raw.readFrame()
        expect(accept?.type).toBe(Type.accept)
        expect(JSON.parse(accept?.payload.toString() ?? '{}')).toMatchObject({ offset: 0 })
        for (let offset = 0; offset < content.byteLength; offset += CHUNK_TEST_SIZE) {
          raw.write(frame(Type.chunk, content.subarray(offset, offset + CHUNK_TEST_SIZE)))
        }
        raw.write(frame(Type.end, digest(content)))
        const done = await raw.readFrame()
        expect(done?.type, `after sending ${JSON.stringify(wireName)}`).toBe(Type.done)
      } finally {
        raw.destroy()
      }
    }
    await expect.poll(() => received.length).toBe(hostileNames.length)
    expect(received.map(file => file.name)).toEqual(hostileNames.map(([, safeName]) => safeName))
    for (const file of received) {
      expect(path.dirname(file.path)).toBe(inbox)
      expect(await sha256File(file.path)).toBe(contents.get(file.name))
    }
    // Nothing anywhere else under tmp: not next to the inbox, not two levels up, no .part left.
    expect(await tree(path.join(tmp, 'names'))).toEqual(
      hostileNames.map(([, safeName]) => path.join('deep', 'inbox', safeName)).sort()
    )
  })

  it('survives thousands of garbage, truncated and stalled connections, answers each with the right code, then serves', {
    timeout: 300_000
  }, async () => {
    const { a, b } = pair
    const errors: Array<{ code?: unknown; name: string }> = []
    // Collected, not awaited with a deadline from here: the garbage phase alone can take longer
    // than any fixed deadline on a loaded machine (a CI run timed out waiting before the send).
    const delivered: Array<{ data: Uint8Array; peerId: string }> = []
    let handled = 0
    await using _listener = await listenForTransmissions(
      'garbage',
      (data, peerId) => {
        handled++
        delivered.push({ data, peerId })
      },
      {
        ipfs: b.ipfs,
        wire: pyB,
        // Short, so stalled connections are answered quickly; still far above a loopback round trip.
        idleTimeout: 700,
        onError: error => void errors.push(error as Error & { code?: unknown })
      }
    )
    await using tunnel = await rawForward('/x/garbage')
    const cases = hostileCases()
    const ours = cases.filter(entry => entry.expected !== 'foreign')
    const foreign = cases.length - ours.length
    const expected = countCodes(ours.map(entry => ({ code: entry.expected, name: '' })))
    expect(cases.length).toBeGreaterThan(2000)

    const mismatches: string[] = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const entry = cases[next++]
        if (entry == null) break
        const raw = await RawConnection.open(tunnel.port)
        try {
          raw.write(entry.bytes)
          if (entry.expected === 'foreign') {
            // Another protocol's request (the Python IPFS-Toolkit's): it is not answered in our
            // frames, but it must be refused, never accepted, and the connection closed.
            await raw.closed()
            if (raw.unread.toString('latin1').startsWith('Transmission request accepted'))
              mismatches.push(`${entry.label}: garbage was accepted as a Python request`)
            continue
          }
          let reply = await raw.readFrame()
          // Cases that pass admission first get an `accept`; what matters is the error after it.
          if (reply?.type === Type.accept && entry.admitted) reply = await raw.readFrame()
          const code = errorCodeOf(reply)
          if (code !== entry.expected)
            mismatches.push(`${entry.label}: expected ${entry.expected}, got ${code}`)
          // The listener closes after its error frame; the tunnel must not stay open.
          await raw.closed()
        } catch (error) {
          mismatches.push(`${entry.label}: ${(error as Error).message}`)
        } finally {
          raw.destroy()
        }
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker))
    expect(mismatches.slice(0, 10)).toEqual([])
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBe(cases.length)
    // Our cases exactly as expected; on top of them, one refusal per foreign connection, each with
    // a code that says what was wrong with it.
    const counts = countCodes(errors)
    const beyondOurs = Object.entries(counts).map(
      ([code, count]) => [code, count - (expected[code] ?? 0)] as const
    )
    expect(beyondOurs.filter(([, extra]) => extra < 0)).toEqual([])
    expect(
      beyondOurs
        .filter(([code, extra]) => extra > 0 && !FOREIGN_REFUSALS.includes(code))
        .map(([code]) => code)
    ).toEqual([])
    expect(beyondOurs.reduce((sum, [, extra]) => sum + extra, 0)).toBe(foreign)
    expect(handled).toBe(0)

    // Still serving: a real transmission after all of that arrives intact.
    const payload = randomBytes(300_000)
    await transmitData(payload, b.node.peerId, 'garbage', { ipfs: a.ipfs })
    await expect.poll(() => delivered.length, { timeout: 10_000 }).toBe(1)
    const [received] = delivered as [{ data: Uint8Array; peerId: string }]
    expect(received.peerId).toBe(a.node.peerId)
    expect(sha256(received.data)).toBe(sha256(payload))
    expect(handled).toBe(1)
    expect(errors).toHaveLength(cases.length)
  })

  it('a peer that announces 10 bytes and sends 20 gets too-large, and nothing is delivered', async () => {
    const { b } = pair
    const inbox = path.join(tmp, 'overflow')
    await fs.mkdir(inbox)
    const errors: string[] = []
    const handled: string[] = []
    const onError = (error: Error): void =>
      void errors.push((error as Error & { code?: string }).code ?? error.name)
    await using _data = await listenForTransmissions('overflow-data', () => void handled.push('data'), {
      ipfs: b.ipfs,
      onError
    })
    await using _files = await listenForFileTransmissions('overflow-files', () => void handled.push('file'), {
      ipfs: b.ipfs,
      directory: inbox,
      onError
    })
    await using dataTunnel = await rawForward('/x/overflow-data')
    await using fileTunnel = await rawForward('/x/overflow-files')
    const twenty = randomBytes(20)
    const attempts = [
      { port: dataTunnel.port, open: { kind: 'data', size: 10 }, chunks: [twenty] },
      {
        port: dataTunnel.port,
        open: { kind: 'data', size: 10 },
        chunks: [twenty.subarray(0, 6), twenty.subarray(6)]
      },
      { port: fileTunnel.port, open: { kind: 'file', name: 'overflow.bin', size: 10 }, chunks: [twenty] }
    ]
    for (const attempt of attempts) {
      const raw = await RawConnection.open(attempt.port)
      try {
        raw.write(PREAMBLE, jsonFrame(Type.open, attempt.open))
        expect((await raw.readFrame())?.type).toBe(Type.accept)
        raw.write(...attempt.chunks.map(chunk => frame(Type.chunk, chunk)), frame(Type.end, digest(twenty)))
        expect(errorCodeOf(await raw.readFrame())).toBe('too-large')
        await raw.closed()
      } finally {
        raw.destroy()
      }
    }
    await expect.poll(() => errors).toEqual(['too-large', 'too-large', 'too-large'])
    expect(handled).toEqual([])
    // Neither the file nor its .part stays behind.
    expect(await fs.readdir(inbox)).toEqual([])
  })

  it('a listener at its limit answers busy while a stalled peer holds its only slot', async () => {
    const { a, b } = pair
    const errors: string[] = []
    const received: string[] = []
    await using _listener = await listenForTransmissions(
      'one-at-a-time',
      data => void received.push(new TextDecoder().decode(data)),
      {
        ipfs: b.ipfs,
        concurrency: 1,
        maxQueued: 0,
        // Long enough that the stalled peer keeps the slot for the whole test.
        idleTimeout: 60_000,
        onError: error => void errors.push((error as Error & { code?: string }).code ?? error.name)
      }
    )
    await using tunnel = await rawForward('/x/one-at-a-time')
    const staller = await RawConnection.open(tunnel.port)
    try {
      staller.write(PREAMBLE, jsonFrame(Type.open, { kind: 'data', size: 100 }))
      // Accepted means admitted: the slot is now taken, and we send no content.
      expect((await staller.readFrame())?.type).toBe(Type.accept)
      const refused = await transmitData('me too', b.node.peerId, 'one-at-a-time', { ipfs: a.ipfs }).catch(
        (error: unknown) => error as Error & { code?: string; remote?: boolean; isRetryable?: boolean }
      )
      expect(refused).toMatchObject({
        name: 'TransmissionError',
        code: 'busy',
        remote: true,
        isRetryable: true
      })
      expect(received).toEqual([])
    } finally {
      staller.destroy()
    }
    // The stalled stream is gone, so the slot frees up and the same sender gets through.
    let attempts = 0
    for (;;) {
      attempts++
      const result = await transmitData('now me', b.node.peerId, 'one-at-a-time', { ipfs: a.ipfs }).then(
        () => 'delivered',
        (error: unknown) => (error as Error & { code?: string }).code ?? (error as Error).name
      )
      if (result === 'delivered') break
      expect(result).toBe('busy')
      expect(attempts).toBeLessThan(20)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    await expect.poll(() => received).toEqual(['now me'])
    // The refusals, and the stalled peer's stream ending without content (a closed stream, once).
    // Not in order: the listener reports a refusal only after giving its error frame time to leave.
    await expect.poll(() => errors.includes('busy') && errors.includes('StreamClosedError')).toBe(true)
    const counts = countCodes(errors.map(code => ({ code, name: code })))
    expect(counts).toEqual({ busy: counts.busy, StreamClosedError: 1 })
  })

  it('a peer that sends one byte of another protocol and stalls does not hold a slot', async () => {
    const { a, b } = pair
    const received: string[] = []
    const errors: string[] = []
    await using _listener = await listenForTransmissions(
      'foreign-stall',
      data => void received.push(new TextDecoder().decode(data)),
      {
        ipfs: b.ipfs,
        wire: pyB,
        concurrency: 1,
        maxQueued: 0,
        idleTimeout: 20_000,
        onError: error => void errors.push((error as Error & { code?: string }).code ?? error.name)
      }
    )
    await using tunnel = await rawForward('/x/foreign-stall')
    // Not NUL, so not ours: the start of a Python IPFS-Toolkit request, whose rest never comes. Our
    // own senders are admitted only after their `open` arrived; a stalled stranger must not get
    // further (into a slot) on one byte.
    const stallers = await Promise.all(Array.from({ length: 3 }, () => RawConnection.open(tunnel.port)))
    try {
      for (const staller of stallers) staller.write(Buffer.of(0x01))
      // All three were read: one peer's third Python-format request is refused `busy` only while
      // its first two are held (the plug-in's concurrencyPerPeer 2), so the stall is in place.
      await expect.poll(() => errors, { timeout: 10_000 }).toEqual(['busy'])
      await transmitData('still served', b.node.peerId, 'foreign-stall', { ipfs: a.ipfs, timeout: 10_000 })
      await expect.poll(() => received).toEqual(['still served'])
    } finally {
      for (const staller of stallers) staller.destroy()
    }
  })

  it('with every listener closed, p2p ls and p2p stream ls end up empty on both nodes', async () => {
    const { a, b } = pair
    // Senders' forward tunnels close ~2 s after their last use; the raw ones closed with their tests.
    await expect
      .poll(async () => await a.ipfs.client.p2p.ls(), { timeout: 15_000, interval: 250 })
      .toEqual([])
    await expect
      .poll(async () => await b.ipfs.client.p2p.ls(), { timeout: 15_000, interval: 250 })
      .toEqual([])
    await expect
      .poll(async () => (await a.ipfs.client.p2p.stream.ls()).length, { timeout: 15_000, interval: 250 })
      .toBe(0)
    await expect
      .poll(async () => (await b.ipfs.client.p2p.stream.ls()).length, { timeout: 15_000, interval: 250 })
      .toBe(0)
  })
})

interface HostileCase {
  label: string
  bytes: Buffer
  /** The code of the listener's `error` frame; `foreign` for bytes of another protocol (see below). */
  expected: 'unsupported-version' | 'protocol' | 'too-large' | 'idle-timeout' | 'wrong-kind' | 'foreign'
  /** Whether the bytes include a valid `open`, so the listener answers `accept` before the error. */
  admitted?: boolean
}

/** A byte that names no frame type. */
function unknownType(): number {
  for (;;) {
    const type = randomInt(0, 256)
    if (!KNOWN_TYPES.has(type)) return type
  }
}

function pick<T>(list: readonly T[]): T {
  const value = list[randomInt(0, list.length)]
  if (value === undefined) throw new Error('pick from an empty list')
  return value
}

/** ~2 000 connections' worth of bytes a listener must refuse, each with the code it must answer. */
function hostileCases(): HostileCase[] {
  const cases: HostileCase[] = []
  const add = (
    count: number,
    label: string,
    expected: HostileCase['expected'],
    make: (index: number) => Buffer,
    admitted = false
  ): void => {
    for (let index = 0; index < count; index++) {
      cases.push({ label: `${label} #${index}`, bytes: make(index), expected, admitted })
    }
  }
  // A NUL, as our preamble starts, then random bytes: not our preamble (but for a 2^-32 chance).
  add(600, 'NUL then random bytes', 'unsupported-version', () =>
    Buffer.concat([Buffer.of(0), randomBytes(randomInt(4, 1024))])
  )
  // Anything else is taken for another protocol's request (the Python IPFS-Toolkit's).
  add(300, 'random bytes, first not NUL', 'foreign', () =>
    Buffer.concat([Buffer.of(randomInt(1, 256)), randomBytes(randomInt(4, 1024))])
  )
  add(100, 'wrong version byte', 'unsupported-version', index =>
    Buffer.concat([
      PREAMBLE.subarray(0, 4),
      Buffer.of([0, 2, 3, 0x7f, 0xff][index % 5] ?? 0),
      randomBytes(randomInt(0, 64))
    ])
  )
  add(400, 'preamble + garbage', 'protocol', () =>
    Buffer.concat([PREAMBLE, Buffer.of(unknownType()), randomBytes(randomInt(4, 512))])
  )
  add(200, 'frame header announcing 4 GiB', 'too-large', index => {
    const header = Buffer.alloc(5)
    header[0] = pick([Type.open, Type.chunk, Type.end, Type.message])
    // Mostly 4 GiB - 1 (the largest u32), sometimes one byte past the 128 KiB limit of the first
    // frame (`open`: a control frame plus 48 KiB of metadata in base64).
    header.writeUInt32BE(index % 4 === 0 ? 128 * 1024 + 1 : 0xffff_ffff, 1)
    return Buffer.concat([PREAMBLE, header, randomBytes(randomInt(0, 256))])
  })
  const badOpens = [
    '{',
    'not json',
    '{"kind":',
    'null',
    '42',
    '"data"',
    '[]',
    '{}',
    '{"kind":"nope"}',
    '{"kind":"data","size":-1}',
    '{"kind":"data","size":1.5}',
    '{"kind":"data","size":"10"}',
    '{"kind":"data","size":1e300}',
    '{"kind":"data","name":42}'
  ]
  add(200, 'open with bad JSON', 'protocol', index =>
    Buffer.concat([
      PREAMBLE,
      // One in five is random bytes (not UTF-8 JSON); the rest cycle through the bad headers above.
      frame(
        Type.open,
        index % 5 === 0
          ? Buffer.concat([Buffer.of(0xff), randomBytes(randomInt(1, 300))])
          : (badOpens[index % badOpens.length] ?? '{')
      )
    ])
  )
  add(50, 'open of another kind', 'wrong-kind', index =>
    Buffer.concat([
      PREAMBLE,
      jsonFrame(Type.open, { kind: index % 2 === 0 ? 'file' : 'conversation', size: 1, name: 'x' })
    ])
  )
  const beforeOpen = [
    Type.accept,
    Type.chunk,
    Type.end,
    Type.done,
    Type.message,
    Type.messageAck,
    Type.close,
    Type.fileOpen,
    Type.fileChunk,
    Type.fileEnd,
    Type.fileDone
  ]
  add(200, 'frame before open', 'protocol', index =>
    Buffer.concat([
      PREAMBLE,
      frame(beforeOpen[index % beforeOpen.length] ?? Type.chunk, randomBytes(randomInt(0, 200)))
    ])
  )
  add(100, 'stall after the preamble', 'idle-timeout', () => PREAMBLE)
  // Truncated: the listener waits for bytes that never come, then answers idle-timeout.
  add(50, 'part of the preamble', 'idle-timeout', () => PREAMBLE.subarray(0, randomInt(1, 5)))
  add(50, 'part of a frame header', 'idle-timeout', () =>
    Buffer.concat([PREAMBLE, frame(Type.open, '{"kind":"data","size":1}').subarray(0, randomInt(1, 5))])
  )
  add(50, 'a header and part of its payload', 'idle-timeout', () => {
    const open = frame(Type.open, '{"kind":"data","size":100,"name":"truncated"}')
    return Buffer.concat([PREAMBLE, open.subarray(0, randomInt(5, open.byteLength))])
  })
  add(
    50,
    'admitted, then a chunk cut short',
    'idle-timeout',
    () =>
      Buffer.concat([
        PREAMBLE,
        jsonFrame(Type.open, { kind: 'data', size: 100 }),
        frame(Type.chunk, randomBytes(100)).subarray(0, randomInt(1, 105))
      ]),
    true
  )
  return cases
}
