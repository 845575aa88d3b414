import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { P2pForegroundTunnel } from '@tk/rpc'
import { describe, expect, it } from 'vitest'
import { Admission, OpeningPool } from '../src/admission.js'
import { partPathFor } from '../src/file-names.js'
import {
  listenForFileTransmissions,
  listenForTransmissions,
  type ReceivedFile,
  transmitData,
  transmitFile
} from '../src/index.js'
import { type Peer, sha256, sha256File, useTemporaryDirectory, useTrio } from './helpers.js'
import { errorCodeOf, frame, jsonFrame, PREAMBLE, RawConnection, Type } from './raw-frames.js'

// Three nodes: B listens, A is an honest sender, C attacks B. The attacker's streams are real
// libp2p streams through C's Kubo (a raw `p2p forward` the test writes bytes into by hand).

const trio = useTrio()
const tmp = useTemporaryDirectory('admission')

/** The attacker's tunnel to `protocol` on B. */
async function attackerForward(protocol: string): Promise<P2pForegroundTunnel & { port: number }> {
  const { b, c } = trio
  const tunnel = await c.ipfs.client.p2p.forward(protocol, '/ip4/127.0.0.1/tcp/0', `/p2p/${b.node.peerId}`, {
    foreground: true
  })
  return Object.assign(tunnel, { port: Number(/\/tcp\/(\d+)/.exec(tunnel.listenAddress)?.[1]) })
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

/** How long B's own RPC takes while it is under attack (ms). */
async function rpcLatency(): Promise<number> {
  const { b } = trio
  const started = performance.now()
  await b.ipfs.client.id({ timeout: 10_000 })
  return performance.now() - started
}

async function makeFile(size: number): Promise<string> {
  const file = path.join(tmp.path, `out-${randomBytes(4).toString('hex')}.bin`)
  await fs.writeFile(file, randomBytes(size))
  return file
}

describe('admission control against slow and hostile peers (real nodes)', () => {
  it('dribblers holding every slot: an honest transmitFile still gets through, and each dribbler is cut for being too slow', {
    timeout: 120_000
  }, async () => {
    const { a, b } = trio
    const inbox = path.join(tmp.path, 'dribble')
    await fs.mkdir(inbox)
    const received: ReceivedFile[] = []
    const fdsBefore = openFds()
    await using _listener = await listenForFileTransmissions('dribble', file => void received.push(file), {
      ipfs: b.ipfs,
      directory: inbox,
      concurrency: 4,
      idleTimeout: 3_000,
      rateWindow: 3_000,
      onError: () => {}
    })
    await using tunnel = await attackerForward('/x/dribble')
    // The attack: admitted streams that send one byte just before the idle timeout.
    const dribblers = await Promise.all(Array.from({ length: 8 }, () => RawConnection.open(tunnel.port)))
    const accepted = await Promise.all(
      dribblers.map(async (raw, index) => {
        // A chunk frame announcing 100 000 bytes, whose bytes then come one at a time.
        const header = frame(Type.chunk).subarray(0, 5)
        header.writeUInt32BE(100_000, 1)
        raw.write(
          PREAMBLE,
          jsonFrame(Type.open, { kind: 'file', name: `d${index}`, size: 10_000_000 }),
          header
        )
        return (await raw.readFrame(1_000).catch(() => undefined))?.type
      })
    )
    // Some got a slot; the rest wait in the queue (no answer yet).
    expect(accepted.filter(type => type === Type.accept).length).toBeGreaterThan(0)
    const dribble = setInterval(() => {
      for (const raw of dribblers) raw.write(Buffer.of(0))
    }, 2_500)
    try {
      const file = await makeFile(2 * 1024 * 1024)
      const started = Date.now()
      await transmitFile(file, b.node.peerId, 'dribble', { ipfs: a.ipfs, timeout: 15_000 })
      expect(Date.now() - started).toBeLessThan(15_000)
      await expect.poll(() => received.length).toBe(1)
      expect(received[0]?.peerId).toBe(a.node.peerId)
      expect(await sha256File(received[0]?.path ?? '')).toBe(await sha256File(file))
      expect(await rpcLatency()).toBeLessThan(2_000)
      // Every dribbler is cut: slower than the minimum rate over a window (or refused busy).
      const codes = await Promise.all(
        dribblers.map(async raw => {
          for (;;) {
            const reply = await raw.readFrame(20_000)
            if (reply?.type !== Type.accept) return errorCodeOf(reply)
          }
        })
      )
      expect(codes.every(code => code === 'idle-timeout' || code === 'busy')).toBe(true)
      expect(codes).toContain('idle-timeout')
    } finally {
      clearInterval(dribble)
      for (const raw of dribblers) raw.destroy()
    }
    await expect.poll(openFds, { timeout: 10_000 }).toBeLessThanOrEqual(fdsBefore + 6)
  })

  it('many stalled openings: beyond the cap the flooding peer’s oldest are refused busy at once, the rest cut at the opening deadline, and an honest sender is served', {
    timeout: 120_000
  }, async () => {
    const { a, b } = trio
    const received: string[] = []
    const fdsBefore = openFds()
    await using _listener = await listenForTransmissions(
      'openings',
      data => void received.push(sha256(data)),
      {
        ipfs: b.ipfs,
        maxOpening: 8,
        openingTimeout: 2_000,
        // Long, so that only the opening deadline can cut the stalled ones in time.
        idleTimeout: 60_000,
        onError: () => {}
      }
    )
    await using tunnel = await attackerForward('/x/openings')
    const started = Date.now()
    // 40 streams that never send a byte, and 2 that dribble their preamble, one byte a second.
    const stalled = await Promise.all(Array.from({ length: 40 }, () => RawConnection.open(tunnel.port)))
    const dribbling = await Promise.all(Array.from({ length: 2 }, () => RawConnection.open(tunnel.port)))
    let sent = 0
    const dribble = setInterval(() => {
      sent++
      for (const raw of dribbling) raw.write(PREAMBLE.subarray(sent - 1, sent))
    }, 1_000)
    try {
      const answers = [...stalled, ...dribbling].map(raw => raw.errorCode(15_000))
      let answered = 0
      for (const answer of answers)
        void answer.then(
          () => answered++,
          () => {}
        )
      // The pool holds 8; each later arrival makes the attacker's oldest opening give way: 34 busy at once.
      await expect.poll(() => answered, { timeout: 1_500, interval: 50 }).toBeGreaterThanOrEqual(42 - 8)
      // The attacker's last eight hold the pool, and an honest peer still gets in (one of them gives way).
      const payload = randomBytes(100_000)
      await transmitData(payload, b.node.peerId, 'openings', { ipfs: a.ipfs, timeout: 10_000 })
      await expect.poll(() => received).toEqual([sha256(payload)])
      expect(await rpcLatency()).toBeLessThan(2_000)
      const codes = await Promise.all(answers)
      const elapsed = Date.now() - started
      const counts: Record<string, number> = {}
      for (const code of codes) counts[code] = (counts[code] ?? 0) + 1
      expect(counts.busy ?? 0).toBeGreaterThanOrEqual(42 - 8)
      expect((counts.busy ?? 0) + (counts['idle-timeout'] ?? 0)).toBe(42)
      expect(counts['idle-timeout'] ?? 0).toBeGreaterThan(0)
      // All answered within the opening deadline plus a margin, not after the 60 s idle timeout.
      expect(elapsed).toBeLessThan(2_000 + 6_000)
    } finally {
      clearInterval(dribble)
      for (const raw of [...stalled, ...dribbling]) raw.destroy()
    }
    await expect.poll(openFds, { timeout: 10_000 }).toBeLessThanOrEqual(fdsBefore + 6)
  })

  it('one peer cannot take every slot: with its streams stalled in all it may hold, another peer is served at once', {
    timeout: 60_000
  }, async () => {
    const { a, b } = trio
    const received: string[] = []
    await using _listener = await listenForTransmissions('share', data => void received.push(sha256(data)), {
      ipfs: b.ipfs,
      concurrency: 4,
      maxStreamsPerPeer: 2,
      idleTimeout: 60_000,
      minRate: 0,
      onError: () => {}
    })
    await using tunnel = await attackerForward('/x/share')
    const stallers = await Promise.all(Array.from({ length: 6 }, () => RawConnection.open(tunnel.port)))
    try {
      const answers = await Promise.all(
        stallers.map(async raw => {
          raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'data', size: 1000 }))
          return (await raw.readFrame(1_500).catch(() => undefined))?.type
        })
      )
      // Two admitted; the other four wait in the queue (unanswered).
      expect(answers.filter(type => type === Type.accept)).toHaveLength(2)
      const payload = randomBytes(1000)
      const started = Date.now()
      await transmitData(payload, b.node.peerId, 'share', { ipfs: a.ipfs, timeout: 5_000 })
      expect(Date.now() - started).toBeLessThan(5_000)
      await expect.poll(() => received).toEqual([sha256(payload)])
    } finally {
      for (const raw of stallers) raw.destroy()
    }
  })

  it('a queued stream waits at most queueTimeout, then gets busy', { timeout: 60_000 }, async () => {
    const { a, b } = trio
    await using _listener = await listenForTransmissions('queue-deadline', () => {}, {
      ipfs: b.ipfs,
      concurrency: 1,
      queueTimeout: 1_500,
      idleTimeout: 60_000,
      minRate: 0,
      onError: () => {}
    })
    await using tunnel = await attackerForward('/x/queue-deadline')
    const staller = await RawConnection.open(tunnel.port)
    try {
      staller.write(PREAMBLE, jsonFrame(Type.open, { kind: 'data', size: 1000 }))
      expect((await staller.readFrame(5_000))?.type).toBe(Type.accept)
      const started = Date.now()
      const refused = await transmitData('waiting', b.node.peerId, 'queue-deadline', {
        ipfs: a.ipfs,
        timeout: 30_000
      }).catch((error: unknown) => error as Error & { code?: string })
      expect(refused).toMatchObject({ name: 'TransmissionError', code: 'busy', remote: true })
      expect(Date.now() - started).toBeLessThan(1_500 + 3_000)
    } finally {
      staller.destroy()
    }
  })

  it('empty chunk frames are refused (protocol), for data and files, before any write or progress call', {
    timeout: 60_000
  }, async () => {
    const { b } = trio
    const inbox = path.join(tmp.path, 'empty-chunks')
    await fs.mkdir(inbox)
    const progress: number[] = []
    await using _data = await listenForTransmissions('empty-data', () => {}, {
      ipfs: b.ipfs,
      idleTimeout: 5_000,
      onError: () => {}
    })
    await using _files = await listenForFileTransmissions('empty-files', () => {}, {
      ipfs: b.ipfs,
      directory: inbox,
      idleTimeout: 5_000,
      onProgress: update => void progress.push(update.bytes),
      onError: () => {}
    })
    for (const [protocol, open] of [
      ['/x/empty-data', { kind: 'data', size: 10 }],
      ['/x/empty-files', { kind: 'file', name: 'empty.bin', size: 10 }]
    ] as const) {
      await using tunnel = await attackerForward(protocol)
      const raw = await RawConnection.open(tunnel.port)
      try {
        raw.write(PREAMBLE, jsonFrame(Type.open, open))
        expect((await raw.readFrame(5_000))?.type).toBe(Type.accept)
        raw.write(...Array.from({ length: 1000 }, () => frame(Type.chunk)))
        expect(await raw.errorCode(4_000)).toBe('protocol')
      } finally {
        raw.destroy()
      }
    }
    expect(progress).toEqual([])
  })
})

describe('parts under a flood of broken-off transfers (real nodes)', () => {
  it('one peer breaking off many transfers evicts its own parts first, not another peer’s', {
    timeout: 60_000
  }, async () => {
    const { a, b, c } = trio
    const inbox = path.join(tmp.path, 'part-flood')
    await fs.mkdir(inbox)
    const progress = new Map<string, number>()
    const broken: string[] = []
    await using _listener = await listenForFileTransmissions('part-flood', () => {}, {
      ipfs: b.ipfs,
      directory: inbox,
      maxParts: 4,
      onProgress: update => void progress.set(`${update.peerId} ${update.name}`, update.bytes),
      onError: (error, peerId) => void broken.push(`${peerId} ${error.name}`)
    })
    const piece = randomBytes(256 * 1024)
    const breakOff = async (from: Peer, name: string): Promise<void> => {
      const tunnel = await from.ipfs.client.p2p.forward(
        '/x/part-flood',
        '/ip4/127.0.0.1/tcp/0',
        `/p2p/${b.node.peerId}`,
        {
          foreground: true
        }
      )
      try {
        const raw = await RawConnection.open(Number(/\/tcp\/(\d+)/.exec(tunnel.listenAddress)?.[1]))
        raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name, size: 10_000_000, resume: true }))
        expect((await raw.readFrame(5_000))?.type).toBe(Type.accept)
        raw.write(frame(Type.chunk, piece))
        await expect.poll(() => progress.get(`${from.node.peerId} ${name}`)).toBe(piece.byteLength)
        raw.destroy()
        await expect
          .poll(() => broken.filter(entry => entry.startsWith(from.node.peerId)).length)
          .toBeGreaterThan(0)
        broken.length = 0
      } finally {
        await tunnel.close()
      }
    }
    // The honest peer's two transfers break off first (the oldest parts), then the flood.
    await breakOff(a, 'honest-1.bin')
    await breakOff(a, 'honest-2.bin')
    for (let index = 0; index < 6; index++) await breakOff(c, `flood-${index}.bin`)
    const parts = (await fs.readdir(inbox)).filter(name => name.endsWith('.part')).sort()
    expect(parts).toHaveLength(4)
    const honest = ['honest-1.bin', 'honest-2.bin'].map(name =>
      path.basename(partPathFor(inbox, a.node.peerId, name, 10_000_000))
    )
    // Both of the honest peer's parts are still there; the flood kept only its newest two.
    for (const part of honest) expect(parts).toContain(part)
    expect(parts).toContain(path.basename(partPathFor(inbox, c.node.peerId, 'flood-5.bin', 10_000_000)))
  })
})

describe('Admission (unit: no Kubo, no sockets)', () => {
  const never = new AbortController().signal

  it('gives one peer at most maxStreamsPerPeer slots and a freed slot to the peer holding fewest', async () => {
    const admission = new Admission({
      concurrency: 3,
      maxQueued: 10,
      maxStreamsPerPeer: 2,
      queueTimeout: 60_000
    })
    const x1 = await admission.enter('x', never)
    const x2 = await admission.enter('x', never)
    const order: string[] = []
    const x3 = admission.enter('x', never).then(release => {
      order.push('x3')
      return release
    })
    const y1 = await admission.enter('y', never)
    const y2 = admission.enter('y', never).then(release => {
      order.push('y2')
      return release
    })
    const z1 = admission.enter('z', never).then(release => {
      order.push('z1')
      return release
    })
    expect(admission.active).toBe(3)
    expect(admission.queued).toBe(3)
    x1()
    // x holds 1, y 1, z 0: z goes first although it came last.
    await z1
    expect(order).toEqual(['z1'])
    y1()
    await y2
    expect(order).toEqual(['z1', 'y2'])
    x2()
    await x3
    expect(order).toEqual(['z1', 'y2', 'x3'])
  })

  it('a full queue makes room for a new peer by refusing the heaviest peer’s newest waiter', async () => {
    const admission = new Admission({
      concurrency: 1,
      maxQueued: 3,
      maxStreamsPerPeer: 1,
      queueTimeout: 60_000
    })
    await admission.enter('x', never)
    const waiting = [1, 2, 3].map(() =>
      admission.enter('x', never).catch((error: Error & { code?: string }) => error.code)
    )
    const y = admission.enter('y', never)
    expect(await waiting[2]).toBe('busy')
    expect(admission.queued).toBe(3)
    // And a peer with as many waiting as the heaviest is refused itself.
    const fair = new Admission({ concurrency: 1, maxQueued: 2, maxStreamsPerPeer: 1, queueTimeout: 60_000 })
    await fair.enter('x', never)
    void fair.enter('x', never).catch(() => {})
    void fair.enter('y', never).catch(() => {})
    await expect(fair.enter('y', never)).rejects.toMatchObject({ code: 'busy' })
    admission.clear(new Error('closing'))
    fair.clear(new Error('closing'))
    await expect(y).rejects.toThrow('closing')
  })

  it('a full opening pool makes room by refusing the oldest opening of the peer holding the most', () => {
    const pool = new OpeningPool(3)
    const refused: string[] = []
    const x1 = pool.enter(() => void refused.push('x1'))
    x1.identify('x')
    const x2 = pool.enter(() => void refused.push('x2'))
    x2.identify('x')
    const y1 = pool.enter(() => void refused.push('y1'))
    y1.identify('y')
    // Full: a newcomer (peer unknown yet) takes the place of x's oldest.
    const z = pool.enter(() => void refused.push('z'))
    expect(refused).toEqual(['x1'])
    z.identify('z')
    // x, y, z hold one each: the oldest of the first of them goes (x2), never more than one.
    pool.enter(() => void refused.push('w'))
    expect(refused).toEqual(['x1', 'x2'])
    expect(pool.size).toBe(3)
    y1.end()
    x1.end()
    expect(pool.size).toBe(2)
  })

  it('a waiter is refused busy after queueTimeout and leaves the queue when its stream closes', async () => {
    const admission = new Admission({ concurrency: 1, maxQueued: 5, maxStreamsPerPeer: 1, queueTimeout: 200 })
    await admission.enter('x', never)
    const started = Date.now()
    await expect(admission.enter('y', never)).rejects.toMatchObject({ code: 'busy' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    const closed = new AbortController()
    const gone = admission.enter('z', closed.signal)
    expect(admission.queued).toBe(1)
    closed.abort(new Error('stream closed'))
    await expect(gone).rejects.toThrow('stream closed')
    expect(admission.queued).toBe(0)
  })
})
