/**
 * Interoperability with the Python IPFS-Toolkit (PyPI `IPFS-Toolkit` 0.5.33, installed into
 * <repo>/.tools/py-venv by scripts/python-toolkit.mjs): real Kubo daemons, real Python processes
 * (test/python/*.py) on node B, our code on node A. Without the venv the suite skips, except in
 * CI, where it fails.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { KuboNode } from '@tk/testkit'
import { raceSignal } from 'race-signal'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type Conversation,
  listenForConversations,
  listenForFileTransmissions,
  listenForTransmissions,
  type ReceivedFile,
  startConversation,
  type TransmissionError,
  transmitData,
  transmitFile
} from '../src/index.js'
import { decodeB255, encodeB255, encodePythonFrame, withChecksum } from '../src/python/b255.js'
import { sendPythonFile } from '../src/python/files.js'
import { type IpfsToolkitPy, ipfsToolkitPy } from '../src/python/index.js'
import { nextValue, type Pair, sha256, sha256File, startPair } from './helpers.js'

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..')
const venvPython = path.join(repoRoot, '.tools', 'py-venv', 'bin', 'python')
const scripts = path.join(import.meta.dirname, 'python')
const haveVenv = existsSync(venvPython)
const inCi = process.env.CI != null && process.env.CI !== '' && process.env.CI !== 'false'
if (!haveVenv && !inCi) {
  console.warn(
    `python-compat: SKIPPED, no Python IPFS-Toolkit venv at ${venvPython}; create it with \`node scripts/python-toolkit.mjs\``
  )
}

/** The test cipher, the same as test/python/common.py's: decrypt refuses what lacks the marker. */
const MARKER = new TextEncoder().encode('ENC')
function encrypt(bytes: Uint8Array): Uint8Array {
  const result = new Uint8Array(bytes.byteLength + MARKER.byteLength)
  result.set(MARKER)
  result.set(
    bytes.map(byte => byte ^ 0x5a),
    MARKER.byteLength
  )
  return result
}
function decrypt(bytes: Uint8Array): Uint8Array {
  if (!MARKER.every((byte, index) => bytes[index] === byte))
    throw new Error('not encrypted with the test cipher')
  return bytes.subarray(MARKER.byteLength).map(byte => byte ^ 0x5a)
}

type PythonEvent = { event: string } & Record<string, unknown>

/** A test/python script running against one node; its `@@ {json}` lines are the events. */
class PythonPeer {
  readonly #child: ChildProcess
  readonly #events: PythonEvent[] = []
  #output = ''
  #waiters: Array<() => void> = []
  #exited = false

  constructor(script: string, args: string[], node: KuboNode, dataHome: string) {
    this.#child = spawn(venvPython, [path.join(scripts, script), ...args], {
      cwd: dataHome,
      env: {
        ...process.env,
        PY_IPFS_HTTP_CLIENT_DEFAULT_ADDR: `${node.apiMultiaddr}/http`,
        // ipfs_lns creates its contact folders under the user data dir at import time.
        XDG_DATA_HOME: dataHome,
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1'
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let pending = ''
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith('@@ ')) this.#events.push(JSON.parse(line.slice(3)) as PythonEvent)
        else this.#keep(`${line}\n`)
      }
      this.#wake()
    })
    this.#child.stderr?.on('data', (chunk: Buffer) => this.#keep(chunk.toString('utf8')))
    this.#child.once('exit', () => {
      this.#exited = true
      this.#wake()
    })
  }

  /** The next event named `name` (earlier ones of other names stay); fails on `error` or exit. */
  async next(name: string, ms = 60_000): Promise<PythonEvent> {
    const deadline = Date.now() + ms
    for (;;) {
      const index = this.#events.findIndex(event => event.event === name || event.event === 'error')
      if (index >= 0) {
        const [event] = this.#events.splice(index, 1)
        if (event == null || event.event === 'error')
          throw new Error(`Python: ${String(event?.message)}\n${this.#output}`)
        return event
      }
      if (this.#exited) throw new Error(`Python exited before "${name}":\n${this.#output}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no "${name}" from Python within ${ms} ms:\n${this.#output}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, Math.min(left, 1_000))
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Waits for the process to end by itself (its scripts end with os._exit), else kills it. */
  async stop(ms = 10_000): Promise<void> {
    if (this.#exited || this.#child.pid == null) return
    const exited = new Promise<void>(resolve => this.#child.once('exit', () => resolve()))
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), ms)
    await exited
    clearTimeout(timer)
  }

  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL')
  }

  #keep(text: string): void {
    // The toolkit's own prints and tracebacks, for failure messages only (bounded).
    this.#output = (this.#output + text).slice(-8_000)
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

describe('the Python wire format', () => {
  it('encodes lengths in base 255 with no zero digit, as ipfs_tk does', () => {
    const cases: Array<[number, number[]]> = [
      [0, []],
      [1, [0x02]],
      [53, [0x36]],
      [254, [0xff]],
      [255, [0x02, 0x01]],
      [1000, [0x04, 0xec]],
      [1048576, [0x11, 0x21, 0x11]]
    ]
    for (const [value, digits] of cases) {
      expect([...encodeB255(value)]).toEqual(digits)
      expect(decodeB255(Uint8Array.from(digits))).toBe(value)
    }
    expect([...encodePythonFrame(Uint8Array.of(9, 8))]).toEqual([0x03, 0x00, 9, 8])
    // Integrity byte: sum of the bytes modulo 256, in front.
    expect([...withChecksum(Uint8Array.of(200, 100))]).toEqual([44, 200, 100])
    expect(() => decodeB255(Uint8Array.of(1, 0))).toThrow(RangeError)
  })
})

describe.skipIf(!haveVenv && !inCi)('Python IPFS-Toolkit 0.5.33 peers', () => {
  let pair: Pair
  let work: string
  const peers: PythonPeer[] = []
  /** The Python format as a plug-in on each node (`wire`). */
  let pyA: IpfsToolkitPy
  let pyB: IpfsToolkitPy

  /** Node B runs the Python script; node A runs our code. */
  const python = (script: string, ...args: string[]): PythonPeer => {
    const peer = new PythonPeer(script, args, pair.b.node, work)
    peers.push(peer)
    return peer
  }

  beforeAll(async () => {
    if (!haveVenv) {
      throw new Error(
        `CI must run the Python interop tests: no venv at ${venvPython}; bootstrap runs \`node scripts/python-toolkit.mjs\``
      )
    }
    pair = await startPair()
    pyA = ipfsToolkitPy({ client: pair.a.ipfs.client })
    pyB = ipfsToolkitPy({ client: pair.b.ipfs.client })
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-python-compat-'))
  })

  afterEach(async () => {
    for (const peer of peers.splice(0)) {
      peer.kill()
      await peer.stop(5_000)
    }
  })

  afterAll(async () => {
    for (const peer of peers.splice(0)) peer.kill()
    await pyA?.close()
    await pyB?.close()
    await pair?.stop()
    if (work != null) await fs.rm(work, { recursive: true, force: true })
  })

  it('Python transmit_data → listenForTransmissions: text, 1 MiB, every byte value; our protocol on the same listener', async () => {
    const { a, b } = pair
    const received: Array<{ data: Uint8Array; peerId: string }> = []
    await using _listener = await listenForTransmissions(
      'py-inbox',
      (data, peerId) => void received.push({ data, peerId }),
      { ipfs: a.ipfs, wire: pyA }
    )
    const sender = python('send_data.py', a.node.peerId, 'py-inbox')
    const sent = [await sender.next('sent'), await sender.next('sent'), await sender.next('sent')]
    await sender.next('done')
    await expect.poll(() => received.length).toBe(3)
    expect(sent.map(event => event.size)).toEqual([18, 1024 * 1024, 256])
    expect(received.map(message => sha256(message.data))).toEqual(sent.map(event => event.sha256))
    expect(new TextDecoder().decode(received[0]?.data)).toBe('héllo from Python')
    expect(received[2]?.data).toEqual(Uint8Array.from({ length: 256 }, (_, index) => index))
    // The id Kubo authenticated, which the Python request also claimed.
    expect(received.map(message => message.peerId)).toEqual([b.node.peerId, b.node.peerId, b.node.peerId])

    // Our own senders still speak our protocol to the same listener.
    await transmitData('tk on the same name', a.node.peerId, 'py-inbox', { ipfs: b.ipfs })
    await expect.poll(() => received.length).toBe(4)
    expect(new TextDecoder().decode(received[3]?.data)).toBe('tk on the same name')
  })

  it('transmitData({ wire: ipfsToolkitPy() }) → Python listen_for_transmissions', async () => {
    const { a, b } = pair
    const receiver = python('receive_data.py', 'py-listener', '3')
    expect((await receiver.next('ready')).peer).toBe(b.node.peerId)
    const every = Uint8Array.from({ length: 256 }, (_, index) => index)
    const big = randomBytes(1024 * 1024)
    const text = new TextEncoder().encode('héllo from TypeScript')
    for (const data of [text, big, every]) {
      await transmitData(data, b.node.peerId, 'py-listener', { ipfs: a.ipfs, wire: pyA })
    }
    const got = [await receiver.next('data'), await receiver.next('data'), await receiver.next('data')]
    expect(got.map(event => event.sha256)).toEqual([sha256(text), sha256(big), sha256(every)])
    expect(got.map(event => event.size)).toEqual([text.byteLength, big.byteLength, 256])
    expect(got[2]?.head).toBe(Buffer.from(every.subarray(0, 32)).toString('hex'))
    expect(got.map(event => event.peer)).toEqual([a.node.peerId, a.node.peerId, a.node.peerId])
    await receiver.next('done')

    await expect(
      transmitData(new Uint8Array(0), b.node.peerId, 'py-listener', {
        ipfs: a.ipfs,
        wire: pyA
      })
    ).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'data' })
  })

  it('Python transmit_file → listenForFileTransmissions: a multi-MiB file and its metadata', async () => {
    const { a, b } = pair
    const directory = await fs.mkdtemp(path.join(work, 'into-ts-'))
    const source = path.join(work, 'report 2026.bin')
    await fs.writeFile(source, randomBytes(3 * 1024 * 1024 + 12_345))
    const got = nextValue<ReceivedFile>(150_000)
    const progress: number[] = []
    await using _listener = await listenForFileTransmissions('py-files', file => got.deliver(file), {
      ipfs: a.ipfs,
      wire: pyA,
      directory,
      onProgress: update => void progress.push(update.bytes)
    })
    const metadata = Buffer.from('{"from":"python","n":1}')
    const sender = python('send_file.py', a.node.peerId, 'py-files', source, metadata.toString('hex'))
    const file = await got.promise
    const sent = await sender.next('sent', 150_000)
    expect(file.peerId).toBe(b.node.peerId)
    expect(file.name).toBe('report 2026.bin')
    expect(file.path).toBe(path.join(directory, 'report 2026.bin'))
    expect(file.size).toBe(3 * 1024 * 1024 + 12_345)
    expect(Buffer.from(file.metadata).toString()).toBe('{"from":"python","n":1}')
    expect(await sha256File(file.path)).toBe(sent.sha256)
    expect(await sha256File(file.path)).toBe(await sha256File(source))
    expect(progress.at(-1)).toBe(file.size)
    // Only the file: no .part left behind.
    expect(await fs.readdir(directory)).toEqual(['report 2026.bin'])
  })

  it('transmitFile({ wire: ipfsToolkitPy({ decrypt }), encrypt }) → Python listen_for_file_transmissions with encryption callbacks', async () => {
    const { a, b } = pair
    const directory = await fs.mkdtemp(path.join(work, 'into-py-'))
    const receiver = python('receive_files.py', 'py-file-listener', '1', directory, 'encrypt')
    await receiver.next('ready')
    const source = path.join(work, 'data-for-python.bin')
    await fs.writeFile(source, randomBytes(2 * 1024 * 1024 + 777))
    const progress: number[] = []
    // ipfs_tk encrypts its `ready` answer too: the plug-in undoes it.
    await using pyDecrypting = ipfsToolkitPy({ client: a.ipfs.client, decrypt })
    await transmitFile(source, b.node.peerId, 'py-file-listener', {
      ipfs: a.ipfs,
      wire: pyDecrypting,
      metadata: 'metadata for python',
      encrypt,
      onProgress: update => void progress.push(update.bytes)
    })
    const file = await receiver.next('file', 60_000)
    expect(file.peer).toBe(a.node.peerId)
    expect(file.name).toBe('data-for-python.bin')
    expect(file.size).toBe(2 * 1024 * 1024 + 777)
    expect(file.sha256).toBe(await sha256File(source))
    expect(Buffer.from(String(file.metadata), 'hex').toString()).toBe('metadata for python')
    expect(progress.at(-1)).toBe(2 * 1024 * 1024 + 777)
  })

  it('startConversation({ wire: ipfsToolkitPy() }) with a Python joiner: encrypted turns and a file each way', async () => {
    const { a, b } = pair
    const back = path.join(work, 'answer-from-python.txt')
    await fs.writeFile(back, randomBytes(300_000))
    const pythonFiles = await fs.mkdtemp(path.join(work, 'python-conversation-'))
    const joiner = python('conversation_join.py', 'py-conversations', '3', back, pythonFiles, 'encrypt')
    await joiner.next('ready')
    const directory = await fs.mkdtemp(path.join(work, 'conversation-'))
    const conversation: Conversation = await startConversation('tk-chat', b.node.peerId, 'py-conversations', {
      ipfs: a.ipfs,
      wire: pyA,
      encrypt,
      decrypt,
      directory
    })
    const request = await joiner.next('request')
    expect(request).toMatchObject({ name: 'tk-chat', peer: a.node.peerId })
    expect(conversation.peerId).toBe(b.node.peerId)
    for (let turn = 0; turn < 3; turn++) {
      const message = new TextEncoder().encode(`message ${turn} ${randomBytes(6).toString('hex')}`)
      await conversation.say(message)
      expect(await joiner.next('heard')).toMatchObject({ turn, sha256: sha256(message) })
      const answer = await conversation.listen({ timeout: 30_000 })
      expect(new TextDecoder().decode(answer)).toBe(
        `py:${new TextDecoder().decode(message).split('').reverse().join('')}`
      )
    }
    const mine = path.join(work, 'from-typescript.bin')
    await fs.writeFile(mine, randomBytes(1024 * 1024 + 3))
    await conversation.transmitFile(mine, { metadata: 'conversation file' })
    const theirs = await joiner.next('file', 60_000)
    expect(theirs).toMatchObject({
      name: 'from-typescript.bin',
      size: 1024 * 1024 + 3,
      sha256: await sha256File(mine),
      metadata: Buffer.from('conversation file').toString('hex')
    })
    const file = await conversation.listenForFile({ timeout: 60_000 })
    expect(file.name).toBe('answer-from-python.txt')
    expect(path.dirname(file.path)).toBe(directory)
    expect(await sha256File(file.path)).toBe(await sha256File(back))
    expect(Buffer.from(file.metadata).toString()).toBe('from python')
    await joiner.next('sent')
    await conversation.close()
    expect(await conversation.closed).toEqual({ by: 'us', reason: undefined })
    // Our inboxes, data tunnels and forwards are all gone from node A.
    await expect
      .poll(async () => (await a.ipfs.client.p2p.ls()).map(tunnel => tunnel.protocol), { timeout: 10_000 })
      .toEqual([])
  })

  it('startConversation({ wire: ipfsToolkitPy() }) to a Python listener whose handler fails settles within its timeout', async () => {
    const { a, b } = pair
    const listener = python('conversation_fail.py', 'py-broken-handler', '40')
    await listener.next('ready')
    const started = Date.now()
    const error = await startConversation('doomed', b.node.peerId, 'py-broken-handler', {
      ipfs: a.ipfs,
      wire: pyA,
      timeout: 8_000
    }).then(
      () => new Error('resolved, but nobody joined'),
      (caught: unknown) => caught as Error
    )
    // The request reached the handler, which failed: the Python side never joins.
    expect(await listener.next('request')).toMatchObject({ name: 'doomed', peer: a.node.peerId })
    expect(error.name).toBe('TimeoutError')
    expect(Date.now() - started).toBeGreaterThanOrEqual(7_900)
    expect(Date.now() - started).toBeLessThan(8_000 + 3_000)
    listener.kill()
    // Nothing of the attempt is left on node A: its inboxes were closed.
    await expect
      .poll(async () => (await a.ipfs.client.p2p.ls()).map(tunnel => tunnel.protocol), { timeout: 10_000 })
      .toEqual([])
  })

  it('Python start_conversation → listenForConversations: the request, join, encrypted turns each way', async () => {
    const { a, b } = pair
    const requests: Array<{ name: string; peerId: string }> = []
    const conversations: Conversation[] = []
    await using _listener = await listenForConversations(
      'ts-conversations',
      async request => {
        requests.push({ name: request.name, peerId: request.peerId })
        const conversation = await request.join({ encrypt, decrypt })
        conversations.push(conversation)
        for await (const message of conversation) {
          await conversation.say(`ts:${new TextDecoder().decode(message).split('').reverse().join('')}`)
        }
      },
      { ipfs: a.ipfs, wire: pyA }
    )
    const starter = python(
      'conversation_start.py',
      a.node.peerId,
      'ts-conversations',
      'py-chat',
      '3',
      'encrypt'
    )
    await starter.next('started')
    const answers = [await starter.next('answer'), await starter.next('answer'), await starter.next('answer')]
    await starter.next('done')
    expect(answers.map(answer => answer.ok)).toEqual([true, true, true])
    expect(requests).toEqual([{ name: 'py-chat', peerId: b.node.peerId }])
    await Promise.all(conversations.map(conversation => conversation.close()))
  })

  it('a Python peer saying more than our reader takes waits once maxInboxBytes are held unread; a message larger than that gets through an empty inbox', async () => {
    const MAX_INBOX = 1024 * 1024
    const SIZE = 256 * 1024
    /** Python's say() timeout (s): how long a held `Finished!` takes to count as "waits". */
    const SAY_TIMEOUT = 8
    const joined = nextValue<Conversation>()
    await using _listener = await listenForConversations(
      'ts-slow-reader',
      async request => joined.deliver(await request.join({ maxInboxBytes: MAX_INBOX })),
      { ipfs: pair.a.ipfs, wire: pyA }
    )
    const starter = python(
      'conversation_flood.py',
      pair.a.node.peerId,
      'ts-slow-reader',
      'py-flood',
      '32',
      String(SIZE),
      String(SAY_TIMEOUT),
      String(3 * MAX_INBOX)
    )
    await starter.next('started')
    await using conversation = await joined.promise
    // Three times the bound, into an empty inbox: taken whole.
    const big = await starter.next('said')
    expect(big).toMatchObject({ index: -1, ok: true })
    expect(sha256(await conversation.listen({ timeout: 30_000 }))).toBe(big.sha)

    // Now nothing is read until Python's say() fails for want of `Finished!`.
    await conversation.say('go', { timeout: 30_000 })
    await starter.next('go')
    const said: Array<Record<string, unknown>> = []
    for (;;) {
      const event = await starter.next('said', 120_000)
      said.push(event)
      if (event.ok !== true) break
    }
    expect(said.at(-1)).toMatchObject({ ok: false, error: 'TimeoutError' })
    const acknowledged = said.filter(event => event.ok === true)
    // Held for the reader: 4 in the conversation (taken while below 1 MiB), 3 in its frame
    // reader's read-ahead (704 KiB), 1 in the bridge's loopback pair, 4 in the Python inbox (the
    // same rule as the conversation's). Bounded by count alone, the Python inbox took 16 (and the
    // bridged conversation ignored maxInboxBytes, taking 8 MiB: all 32).
    expect(acknowledged.length).toBeGreaterThanOrEqual(MAX_INBOX / SIZE)
    expect(acknowledged.length).toBeLessThanOrEqual(MAX_INBOX / SIZE + 3 + 1 + MAX_INBOX / SIZE)
    // What Python was told arrived is all there, in order.
    const read: string[] = []
    for (const _ of acknowledged) read.push(sha256(await conversation.listen({ timeout: 30_000 })))
    expect(read).toEqual(acknowledged.map(event => event.sha))
    await starter.next('done')
  })

  describe('guards against Python-style requests', () => {
    /**
     * Writes `bytes` to `listener` on node A from node B, as a Python sender would; returns what came
     * back before the listener closed the stream (the test fails if it does not close it in 15 s).
     */
    async function rawRequest(listener: string, bytes: Uint8Array): Promise<string> {
      const stream = await pair.b.ipfs.streams.open(pair.a.node.peerId, `/x/${listener}`, { timeout: 30_000 })
      const chunks: Buffer[] = []
      await stream.write(bytes)
      const reading = (async () => {
        for await (const chunk of stream) chunks.push(Buffer.from(chunk))
      })().catch(() => {
        // A reset: the listener closed the stream too.
      })
      try {
        await raceSignal(reading, AbortSignal.timeout(15_000), {
          translateError: () => new Error(`the listener ${listener} did not close the stream within 15 s`)
        })
      } finally {
        stream.abort()
      }
      return Buffer.concat(chunks).toString('latin1')
    }

    it('refuses a bad checksum, a claimed peer id that Kubo did not authenticate, and an oversized length; keeps serving', async () => {
      const { a, b } = pair
      const errors: Array<{ code: string; peerId: string | undefined }> = []
      const received: string[] = []
      await using _listener = await listenForTransmissions(
        'guarded-py',
        data => void received.push(new TextDecoder().decode(data)),
        {
          ipfs: a.ipfs,
          wire: pyA,
          maxMessageSize: 1000,
          onError: (error, peerId) => void errors.push({ code: (error as TransmissionError).code, peerId })
        }
      )
      const claim = new TextEncoder().encode(b.node.peerId)
      const badChecksum = withChecksum(claim)
      badChecksum[0] = ((badChecksum[0] ?? 0) + 1) % 256
      expect(await rawRequest('guarded-py', encodePythonFrame(badChecksum))).toBe(
        'Transmission request not accepted.'
      )
      // A request that claims node A's id, sent from node B.
      const lie = encodePythonFrame(withChecksum(new TextEncoder().encode(a.node.peerId)))
      expect(await rawRequest('guarded-py', lie)).toBe('Transmission request not accepted.')
      // A length prefix of 40 digits (about 255^40 bytes) is refused before anything is read.
      expect(await rawRequest('guarded-py', Uint8Array.from([...new Array(40).fill(0xfe), 0]))).toBe('')
      // A frame whose b255 length says more than it sends waits into the idle timeout, then closes: not tested (30 s).
      await expect.poll(() => errors.map(error => error.code)).toEqual(['protocol', 'forbidden', 'too-large'])
      expect(errors.every(error => error.peerId === b.node.peerId)).toBe(true)

      // A real Python-style sender beyond maxMessageSize gets no `Finished!`; one within it does.
      await expect(
        transmitData(new Uint8Array(1001).fill(7), a.node.peerId, 'guarded-py', {
          ipfs: b.ipfs,
          wire: pyB,
          idleTimeout: 5_000
        })
      ).rejects.toMatchObject({ name: 'StreamClosedError' })
      await transmitData('still serving', a.node.peerId, 'guarded-py', {
        ipfs: b.ipfs,
        wire: pyB
      })
      await expect.poll(() => received).toEqual(['still serving'])
      expect(errors.map(error => error.code)).toEqual(['protocol', 'forbidden', 'too-large', 'too-large'])
    })

    it('sanitizes a Python sender’s file name and keeps maxFileSize', async () => {
      const { a, b } = pair
      const directory = await fs.mkdtemp(path.join(work, 'guarded-files-'))
      const errors: string[] = []
      const files: ReceivedFile[] = []
      await using _listener = await listenForFileTransmissions(
        'guarded-py-files',
        file => void files.push(file),
        {
          ipfs: a.ipfs,
          wire: pyA,
          directory,
          maxFileSize: 100_000,
          onError: error => void errors.push((error as TransmissionError).code)
        }
      )
      const source = path.join(work, 'innocent.txt')
      await fs.writeFile(source, 'not what it claims to be')
      await sendPythonFile({
        client: { p2p: b.ipfs.client.p2p, streams: b.ipfs.streams },
        peerId: a.node.peerId,
        protocol: '/x/guarded-py-files',
        filePath: source,
        name: '../../.bashrc',
        idleTimeout: 10_000,
        signal: AbortSignal.timeout(60_000)
      })
      await expect.poll(() => files.length).toBe(1)
      expect(files[0]?.name).toBe('bashrc')
      expect(files[0]?.path).toBe(path.join(directory, 'bashrc'))
      expect(await fs.readFile(path.join(directory, 'bashrc'), 'utf8')).toBe('not what it claims to be')

      const big = path.join(work, 'too-big.bin')
      await fs.writeFile(big, randomBytes(100_001))
      await expect(
        sendPythonFile({
          client: { p2p: b.ipfs.client.p2p, streams: b.ipfs.streams },
          peerId: a.node.peerId,
          protocol: '/x/guarded-py-files',
          filePath: big,
          idleTimeout: 4_000,
          signal: AbortSignal.timeout(60_000)
        })
      ).rejects.toMatchObject({ code: 'idle-timeout' })
      await expect.poll(() => errors).toEqual(['too-large'])
      expect((await fs.readdir(directory)).sort()).toEqual(['bashrc'])
    })

    it('refuses headers a Python receiver cannot read before sending anything', async () => {
      const { a, b } = pair
      const source = path.join(work, 'any.bin')
      await fs.writeFile(source, new Uint8Array(254))
      // 254 bytes is the single base-255 digit 0xFF, which ipfs_tk mistakes for a separator.
      await expect(
        transmitFile(source, a.node.peerId, 'nobody', { ipfs: b.ipfs, wire: pyB })
      ).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'filePath' })
      await fs.writeFile(source, new Uint8Array(10))
      await expect(
        transmitFile(source, a.node.peerId, 'nobody', {
          ipfs: b.ipfs,
          wire: pyB,
          metadata: Uint8Array.of(1, 0xff, 2)
        })
      ).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'metadata' })
      // A plug-in that cannot send data is refused as such, before anything goes out.
      await expect(
        transmitData('x', a.node.peerId, 'nobody', { ipfs: b.ipfs, wire: { name: 'listen-only' } })
      ).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'wire' })
    })
  })
})
