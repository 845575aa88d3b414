import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { socketStream } from '@tk/rpc/streams'
import { describe, expect, it } from 'vitest'
import { FrameStream } from '../src/frame-stream.js'
import {
  type Conversation,
  type ConversationRequest,
  listenForConversations,
  startConversation
} from '../src/index.js'
import { FrameType, frameHeader } from '../src/protocol.js'
import { nextValue, sha256, sha256File, usePair, useTemporaryDirectory } from './helpers.js'

const pair = usePair()
const tmp = useTemporaryDirectory('conversation-limits')

/** `promise`'s outcome, or "still pending" after `ms`: a join that never settles fails here instead of hanging. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: Error }> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise.then(
        value => ({ value }),
        (error: unknown) => ({ error: error as Error })
      ),
      new Promise<{ error: Error }>(resolve => {
        timer = setTimeout(() => resolve({ error: new Error(`still pending after ${ms} ms`) }), ms)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

describe('join() always settles', () => {
  it('when the starter has already gone: join() rejects with StreamClosedError', async () => {
    const request = nextValue<ConversationRequest>()
    const reports: Error[] = []
    const reported = nextValue<Error>()
    const handlerMayJoin = nextValue<void>()
    await using _listener = await listenForConversations(
      'gone',
      async incoming => {
        request.deliver(incoming)
        // Keeps the request undecided (a handler that returned would decline it at once).
        await handlerMayJoin.promise.catch(() => {})
      },
      {
        ipfs: pair.b.ipfs,
        idleTimeout: 60_000,
        onError: error => {
          reports.push(error)
          reported.deliver(error)
        }
      }
    )
    const starting = startConversation('hello', pair.b.node.peerId, 'gone', {
      ipfs: pair.a.ipfs,
      timeout: 1_500
    })
    await expect(starting).rejects.toMatchObject({ name: 'TimeoutError' })
    await request.promise
    // The listener notices the starter went away (long before its idle timeout of 60 s).
    expect(await reported.promise).toMatchObject({ name: 'StreamClosedError' })
    const joined = await within((await request.promise).join(), 10_000)
    expect(joined.error).toMatchObject({ name: 'StreamClosedError' })
    handlerMayJoin.deliver()
  })

  it('when the handler joins after the idle timeout: join() rejects with declined', async () => {
    const request = nextValue<ConversationRequest>()
    const reported = nextValue<Error>()
    const handlerMayJoin = nextValue<void>()
    await using _listener = await listenForConversations(
      'late',
      async incoming => {
        request.deliver(incoming)
        await handlerMayJoin.promise.catch(() => {})
      },
      { ipfs: pair.b.ipfs, idleTimeout: 1_000, onError: error => reported.deliver(error) }
    )
    const starting = startConversation('hello', pair.b.node.peerId, 'late', {
      ipfs: pair.a.ipfs,
      timeout: 10_000
    })
    await expect(starting).rejects.toMatchObject({
      name: 'TransmissionError',
      code: 'declined',
      remote: true
    })
    expect(await reported.promise).toMatchObject({ code: 'declined' })
    const joined = await within((await request.promise).join(), 10_000)
    expect(joined.error).toMatchObject({ name: 'TransmissionError', code: 'declined' })
    handlerMayJoin.deliver()
  })

  it('when the listener closed while the handler held the request: join() rejects promptly with aborted, and no tunnel or stream is left', async () => {
    const { a, b } = pair
    const request = nextValue<ConversationRequest>()
    const handlerMayJoin = nextValue<void>()
    const listener = await listenForConversations(
      'closing',
      async incoming => {
        request.deliver(incoming)
        // Keeps the request undecided (a handler that returned would decline it at once).
        await handlerMayJoin.promise.catch(() => {})
      },
      // Far longer than the bound below: only the listener closing can settle join() in time.
      { ipfs: b.ipfs, idleTimeout: 60_000 }
    )
    const starting = startConversation('hello', b.node.peerId, 'closing', { ipfs: a.ipfs, timeout: 60_000 })
    starting.catch(() => {})
    const held = await request.promise
    await listener.close()
    const started = Date.now()
    const joined = await within(held.join(), 10_000)
    const settledAfter = Date.now() - started
    expect(joined.error).toMatchObject({ name: 'TransmissionError', code: 'aborted' })
    expect(settledAfter).toBeLessThan(2_000)
    // Joining again is told the same at once.
    const again = await within(held.join(), 1_000)
    expect(again.error).toMatchObject({ name: 'TransmissionError', code: 'aborted' })
    // The starter hears of it too, long before its own timeout.
    const start = await within(starting, 10_000)
    expect(start.error?.name).toMatch(/TransmissionError|StreamClosedError/)
    expect(start.error?.message).not.toMatch(/still pending/)
    handlerMayJoin.deliver()
    await expect
      .poll(
        async () => (await b.ipfs.client.p2p.ls()).length + (await b.ipfs.client.p2p.stream.ls()).length,
        {
          timeout: 10_000
        }
      )
      .toBe(0)
    await expect
      .poll(
        async () => (await a.ipfs.client.p2p.ls()).length + (await a.ipfs.client.p2p.stream.ls()).length,
        {
          timeout: 10_000
        }
      )
      .toBe(0)
  })

  it('idleTimeout: Infinity waits for the handler as long as it takes, and the conversation works', async () => {
    const reports: Error[] = []
    const joined = nextValue<Conversation>()
    await using _listener = await listenForConversations(
      'patient',
      async request => {
        joined.deliver(await request.join())
      },
      { ipfs: pair.b.ipfs, idleTimeout: Number.POSITIVE_INFINITY, onError: error => void reports.push(error) }
    )
    await using alice = await startConversation('hello', pair.b.node.peerId, 'patient', {
      ipfs: pair.a.ipfs,
      timeout: 10_000
    })
    const bob = await joined.promise
    await alice.say('ping', { timeout: 10_000 })
    expect(new TextDecoder().decode(await bob.listen({ timeout: 10_000 }))).toBe('ping')
    await bob.say('pong', { timeout: 10_000 })
    expect(new TextDecoder().decode(await alice.listen({ timeout: 10_000 }))).toBe('pong')
    expect(reports).toEqual([])
  })
})

describe('a conversation’s inbox and files are bounded', () => {
  it('unread messages are bounded in bytes: the peer’s say() waits until this side reads', async () => {
    const joined = nextValue<Conversation>()
    await using _listener = await listenForConversations(
      'bounded',
      async request => {
        joined.deliver(await request.join({ maxInboxBytes: 1024 * 1024 }))
      },
      { ipfs: pair.b.ipfs }
    )
    await using alice = await startConversation('flood', pair.b.node.peerId, 'bounded', {
      ipfs: pair.a.ipfs,
      timeout: 10_000
    })
    const bob = await joined.promise
    const messages = Array.from({ length: 12 }, () => randomBytes(256 * 1024))
    // Bob reads nothing yet: at most 4 messages fill his 1 MiB inbox, the rest wait on Alice's side.
    const outcomes = await Promise.all(
      messages.map(
        async message =>
          await alice.say(message, { timeout: 4_000 }).then(
            () => 'acknowledged',
            (error: Error) => error.name
          )
      )
    )
    const acknowledged = outcomes.filter(outcome => outcome === 'acknowledged').length
    expect(acknowledged).toBeGreaterThanOrEqual(4)
    expect(acknowledged).toBeLessThanOrEqual(5)
    expect(outcomes.filter(outcome => outcome === 'TimeoutError').length).toBe(12 - acknowledged)
    // Once Bob reads, everything arrives, in order: a timed-out say ended only Alice's wait.
    const read: string[] = []
    for (const _ of messages) read.push(sha256(await bob.listen({ timeout: 10_000 })))
    expect(read).toEqual(messages.map(message => sha256(message)))
  })

  it('files the peer pushes are bounded in count; beyond it the sender hears busy and the conversation goes on', async () => {
    const joined = nextValue<Conversation>()
    await using _listener = await listenForConversations(
      'bounded-files',
      async request => {
        joined.deliver(await request.join({ maxUnreadFiles: 2, maxUnreadFileBytes: 1024 * 1024 }))
      },
      { ipfs: pair.b.ipfs }
    )
    await using alice = await startConversation('files', pair.b.node.peerId, 'bounded-files', {
      ipfs: pair.a.ipfs,
      timeout: 10_000
    })
    const bob = await joined.promise
    const files = await Promise.all(
      [1, 2, 3].map(async index => {
        const file = path.join(tmp.path, `push-${index}.bin`)
        await fs.writeFile(file, randomBytes(100_000))
        return file
      })
    )
    for (const file of files.slice(0, 2)) await alice.transmitFile(file, { timeout: 10_000 })
    await expect(alice.transmitFile(files[2] ?? '', { timeout: 10_000 })).rejects.toMatchObject({
      name: 'TransmissionError',
      code: 'busy',
      remote: true
    })
    // Bytes too: 1 MiB of unread files, so a 2 MiB file is refused even with room in the count.
    const big = path.join(tmp.path, 'push-big.bin')
    await fs.writeFile(big, randomBytes(2 * 1024 * 1024))
    const first = await bob.listenForFile({ timeout: 10_000 })
    await expect(alice.transmitFile(big, { timeout: 10_000 })).rejects.toMatchObject({ code: 'busy' })
    const second = await bob.listenForFile({ timeout: 10_000 })
    expect([await sha256File(first.path), await sha256File(second.path)]).toEqual([
      await sha256File(files[0] ?? ''),
      await sha256File(files[1] ?? '')
    ])
    // Read: room again.
    await alice.transmitFile(files[2] ?? '', { timeout: 10_000 })
    expect(await sha256File((await bob.listenForFile({ timeout: 10_000 })).path)).toBe(
      await sha256File(files[2] ?? '')
    )
    await alice.say('still talking', { timeout: 10_000 })
    expect(new TextDecoder().decode(await bob.listen({ timeout: 10_000 }))).toBe('still talking')
  })

  it('by default files land in a private directory of the conversation’s own, not in the shared temp dir', async () => {
    const joined = nextValue<Conversation>()
    await using _listener = await listenForConversations(
      'private-files',
      async request => {
        joined.deliver(await request.join())
      },
      { ipfs: pair.b.ipfs }
    )
    await using alice = await startConversation('files', pair.b.node.peerId, 'private-files', {
      ipfs: pair.a.ipfs,
      timeout: 10_000
    })
    const bob = await joined.promise
    const file = path.join(tmp.path, 'private.bin')
    await fs.writeFile(file, randomBytes(5_000))
    await alice.transmitFile(file, { timeout: 10_000 })
    const received = await bob.listenForFile({ timeout: 10_000 })
    const directory = path.dirname(received.path)
    try {
      expect(directory).not.toBe(os.tmpdir())
      expect(path.dirname(directory)).toBe(os.tmpdir())
      expect((await fs.stat(directory)).mode & 0o777).toBe(0o700)
      expect(await sha256File(received.path)).toBe(await sha256File(file))
    } finally {
      // Only ever the conversation's own directory: before the fix this was the shared temp dir itself.
      if (path.basename(directory).startsWith('tk-conversation-')) {
        await fs.rm(directory, { recursive: true, force: true })
      } else {
        await fs.rm(received.path, { force: true })
      }
    }
  })

  it('a symlink planted under the file’s name is neither followed nor replaced', async () => {
    const joined = nextValue<Conversation>()
    const directory = path.join(tmp.path, 'planted')
    await fs.mkdir(directory)
    const victim = path.join(tmp.path, 'victim.txt')
    await fs.writeFile(victim, 'precious')
    await fs.symlink(victim, path.join(directory, 'report.txt'))
    await using _listener = await listenForConversations(
      'planted',
      async request => {
        joined.deliver(await request.join({ directory }))
      },
      { ipfs: pair.b.ipfs }
    )
    await using alice = await startConversation('files', pair.b.node.peerId, 'planted', {
      ipfs: pair.a.ipfs,
      timeout: 10_000
    })
    const bob = await joined.promise
    const file = path.join(tmp.path, 'report.txt')
    await fs.writeFile(file, 'attacker bytes')
    await alice.transmitFile(file, { timeout: 10_000 })
    const received = await bob.listenForFile({ timeout: 10_000 })
    expect(path.basename(received.path)).toBe('report (1).txt')
    expect(await fs.readFile(victim, 'utf8')).toBe('precious')
    expect(await fs.readFile(received.path, 'utf8')).toBe('attacker bytes')
  })
})

describe('the framing layer', () => {
  // A unit test on two local sockets (no Kubo needed): what FrameStream takes from a stream over a socket.
  it('reads at most a bounded window ahead of its reader, however large the frames it allows', async () => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    const accepted = once(server, 'connection') as Promise<[net.Socket]>
    const writer = net.connect({ host: '127.0.0.1', port })
    const [socket] = await accepted
    try {
      // A conversation allows frames of 32 MiB + a little; nobody reads this stream yet.
      const stream = new FrameStream(socketStream(socket, ''), { maxFrame: 33 * 1024 * 1024, idleTimeout: 0 })
      const frame = new Uint8Array(4 * 1024 * 1024).fill(7)
      for (let index = 0; index < 8; index++) {
        writer.write(frameHeader(FrameType.message, frame.byteLength))
        writer.write(frame)
      }
      // Either the stream stopped taking bytes (paused: TCP pushes back on the writer) or it took all.
      const total = 8 * (frame.byteLength + 5)
      await expect.poll(() => stream.paused || socket.bytesRead === total, { timeout: 10_000 }).toBe(true)
      expect(socket.bytesRead).toBeLessThanOrEqual(2 * 1024 * 1024)
      // A read takes what it needs (a whole 4 MiB frame), and no more than that ahead.
      const first = await stream.read()
      expect(first.payload.byteLength).toBe(frame.byteLength)
      expect(socket.bytesRead).toBeLessThanOrEqual(4 * 1024 * 1024 + 5 + 2 * 1024 * 1024)
    } finally {
      writer.destroy()
      socket.destroy()
      server.close()
    }
  })
})
