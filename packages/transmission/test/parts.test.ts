import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { P2pForegroundTunnel } from '@tk/rpc'
import { describe, expect, it, vi } from 'vitest'
import { partPathFor } from '../src/file-names.js'
import { listenForFileTransmissions, type ReceivedFile, transmitFile } from '../src/index.js'
import { sha256File, usePair, useTemporaryDirectory } from './helpers.js'
import { frame, jsonFrame, PREAMBLE, RawConnection, Type } from './raw-frames.js'

// A is the sender (honest, or writing raw bytes into its own forward), B the file listener.

/** One full chunk: what a listener writes to its part at once. */
const PIECE = 256 * 1024

const pair = usePair()
const tmp = useTemporaryDirectory('parts')

async function forward(protocol: string): Promise<P2pForegroundTunnel & { port: number }> {
  const tunnel = await pair.a.ipfs.client.p2p.forward(
    protocol,
    '/ip4/127.0.0.1/tcp/0',
    `/p2p/${pair.b.node.peerId}`,
    { foreground: true }
  )
  return Object.assign(tunnel, { port: Number(/\/tcp\/(\d+)/.exec(tunnel.listenAddress)?.[1]) })
}

async function makeDir(name: string): Promise<string> {
  const dir = path.join(tmp.path, name)
  await fs.mkdir(dir, { recursive: true })
  return dir
}

async function partsIn(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter(name => name.endsWith('.part')).sort()
}

/** Bytes this process has read through read(2) and friends so far (Linux). */
function bytesRead(): number {
  const match = /^rchar:\s*(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))
  return Number(match?.[1])
}

/** write(2)-like calls this process has made so far (Linux). */
/**
 * Counts the calls of `FileHandle.write` and `writev` in this process (the listener runs here, and
 * nothing else writes files meanwhile) until `stop()`, which also restores them. A spy on Node's fs,
 * not on our code: the process's write syscalls, counted before, also took in whatever else the
 * process wrote, thousands under a loaded CI run.
 */
async function countFileWrites(): Promise<{ stop: () => number }> {
  const probe = await fs.open(os.devNull, 'r')
  const prototype = Object.getPrototypeOf(probe) as { write: unknown; writev: unknown }
  await probe.close()
  const write = vi.spyOn(prototype as { write: (...args: unknown[]) => unknown }, 'write')
  const writev = vi.spyOn(prototype as { writev: (...args: unknown[]) => unknown }, 'writev')
  return {
    stop: () => {
      const calls = write.mock.calls.length + writev.mock.calls.length
      write.mockRestore()
      writev.mockRestore()
      return calls
    }
  }
}

/**
 * Starts a file transfer by hand, sends `bytes` of it (a whole chunk, 256 KiB, so that the listener
 * writes it at once), waits until the listener has them, then breaks off.
 */
async function breakOff(
  port: number,
  name: string,
  size: number,
  bytes: number,
  progress: Map<string, number>
): Promise<void> {
  const raw = await RawConnection.open(port)
  try {
    raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name, size, resume: true }))
    expect((await raw.readFrame())?.type).toBe(Type.accept)
    raw.write(frame(Type.chunk, randomBytes(bytes)))
    await expect.poll(() => progress.get(name)).toBe(bytes)
  } finally {
    raw.destroy()
  }
}

describe('.part files', () => {
  it('a symbolic link planted at the part path is never followed, resuming or not', async () => {
    const inbox = await makeDir('symlink-inbox')
    const outside = await makeDir('symlink-outside')
    const target = path.join(outside, 'precious.txt')
    await fs.writeFile(target, 'precious data')
    const received: ReceivedFile[] = []
    await using _listener = await listenForFileTransmissions('symlink', file => void received.push(file), {
      ipfs: pair.b.ipfs,
      directory: inbox,
      onError: () => {}
    })
    // transmitFile always offers to resume: the listener would take the link's target for a part.
    const file = path.join(outside, 'victim.txt')
    await fs.writeFile(file, randomBytes(100_000))
    await fs.symlink(target, partPathFor(inbox, pair.a.node.peerId, 'victim.txt', 100_000))
    await transmitFile(file, pair.b.node.peerId, 'symlink', { ipfs: pair.a.ipfs })
    await expect.poll(() => received.length).toBe(1)
    expect(await sha256File(received[0]?.path ?? '')).toBe(await sha256File(file))
    expect(await fs.readFile(target, 'utf8')).toBe('precious data')

    // Without resume: a fresh part must not be created through the link either.
    await fs.symlink(target, partPathFor(inbox, pair.a.node.peerId, 'fresh.bin', 10))
    await using tunnel = await forward('/x/symlink')
    const raw = await RawConnection.open(tunnel.port)
    const content = randomBytes(10)
    try {
      raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name: 'fresh.bin', size: 10 }))
      expect((await raw.readFrame())?.type).toBe(Type.accept)
      raw.write(frame(Type.chunk, content), frame(Type.end, createHash('sha256').update(content).digest()))
      expect((await raw.readFrame())?.type).toBe(Type.done)
    } finally {
      raw.destroy()
    }
    await expect.poll(() => received.length).toBe(2)
    expect(await fs.readFile(received[1]?.path ?? '')).toEqual(content)
    expect(await fs.readFile(target, 'utf8')).toBe('precious data')
    expect(await partsIn(inbox)).toEqual([])
  })

  it('broken-off parts are bounded in count and in bytes per listener (the oldest go first)', async () => {
    for (const [name, limits, expected] of [
      ['count', { maxParts: 3 }, 3],
      ['bytes', { maxPartBytes: 2.5 * PIECE }, 2]
    ] as const) {
      const inbox = await makeDir(`bounded-${name}`)
      const progress = new Map<string, number>()
      const closed: string[] = []
      await using _listener = await listenForFileTransmissions(`bounded-${name}`, () => {}, {
        ipfs: pair.b.ipfs,
        directory: inbox,
        ...limits,
        onProgress: update => void progress.set(update.name, update.bytes),
        onError: error => void closed.push(error.name)
      })
      await using tunnel = await forward(`/x/bounded-${name}`)
      for (let index = 0; index < 6; index++) {
        await breakOff(tunnel.port, `part-${index}.bin`, 1_000_000, PIECE, progress)
      }
      await expect.poll(() => closed.length).toBe(6)
      expect(closed.every(entry => entry === 'StreamClosedError')).toBe(true)
      // The newest parts are the ones kept.
      const kept = await partsIn(inbox)
      expect(kept).toHaveLength(expected)
      const newest = Array.from({ length: expected }, (_, index) =>
        path.basename(partPathFor(inbox, pair.a.node.peerId, `part-${5 - index}.bin`, 1_000_000))
      ).sort()
      expect(kept).toEqual(newest)
    }
  })

  it('parts expire after partTtl, and stale parts from an earlier run are deleted at start', async () => {
    const inbox = await makeDir('expiry')
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000)
    const stale = [`.tk-${'a'.repeat(24)}.part`, `.tk-py-${'b'.repeat(18)}.part`]
    for (const name of stale) {
      await fs.writeFile(path.join(inbox, name), randomBytes(1000))
      await fs.utimes(path.join(inbox, name), twoDaysAgo, twoDaysAgo)
    }
    const unrelated = path.join(inbox, 'keep-me.part')
    await fs.writeFile(unrelated, 'not ours')
    await fs.utimes(unrelated, twoDaysAgo, twoDaysAgo)
    const progress = new Map<string, number>()
    await using _listener = await listenForFileTransmissions('expiry', () => {}, {
      ipfs: pair.b.ipfs,
      directory: inbox,
      partTtl: 3_000,
      onProgress: update => void progress.set(update.name, update.bytes),
      onError: () => {}
    })
    // Stale ones are gone by the time the listener is up; a file not named like ours is left alone.
    expect(await partsIn(inbox)).toEqual(['keep-me.part'])
    await using tunnel = await forward('/x/expiry')
    await breakOff(tunnel.port, 'soon-gone.bin', 1_000_000, PIECE, progress)
    const part = path.basename(partPathFor(inbox, pair.a.node.peerId, 'soon-gone.bin', 1_000_000))
    await expect.poll(async () => await partsIn(inbox)).toContain(part)
    const kept = Date.now()
    await expect
      .poll(async () => await partsIn(inbox), { timeout: 10_000, interval: 100 })
      .toEqual(['keep-me.part'])
    // Expired within the TTL plus a margin.
    expect(Date.now() - kept).toBeLessThan(3_000 + 3_000)
  })

  it('a file sent in 1-byte chunks costs writes and progress calls per 256 KiB, not per frame', async () => {
    const inbox = await makeDir('tiny-chunks')
    const progress: number[] = []
    const received: ReceivedFile[] = []
    await using _listener = await listenForFileTransmissions(
      'tiny-chunks',
      file => void received.push(file),
      {
        ipfs: pair.b.ipfs,
        directory: inbox,
        onProgress: update => void progress.push(update.bytes),
        onError: () => {}
      }
    )
    await using tunnel = await forward('/x/tiny-chunks')
    const content = randomBytes(20_000)
    const raw = await RawConnection.open(tunnel.port)
    const fileWrites = await countFileWrites()
    let writes: number
    try {
      raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name: 'tiny.bin', size: content.byteLength }))
      expect((await raw.readFrame())?.type).toBe(Type.accept)
      const frames = Array.from(content, byte => frame(Type.chunk, Uint8Array.of(byte)))
      raw.write(Buffer.concat([...frames, frame(Type.end, createHash('sha256').update(content).digest())]))
      expect((await raw.readFrame(30_000))?.type).toBe(Type.done)
    } finally {
      writes = fileWrites.stop()
      raw.destroy()
    }
    await expect.poll(() => received.length).toBe(1)
    expect(await fs.readFile(received[0]?.path ?? '')).toEqual(content)
    // 20 000 frames: one progress call (and one write) each would be 20 000.
    expect(progress.length).toBeLessThanOrEqual(2)
    expect(progress.at(-1)).toBe(content.byteLength)
    // 20 000 bytes is less than one 256 KiB write: one write of the part file (one per frame would be
    // 20 000).
    expect(writes).toBe(1)
  })

  it('a file larger than the free space in directory is refused too-large before any chunk', async () => {
    const inbox = await makeDir('no-space')
    await using _listener = await listenForFileTransmissions('no-space', () => {}, {
      ipfs: pair.b.ipfs,
      directory: inbox,
      onError: () => {}
    })
    const free = await fs.statfs(inbox)
    // Well beyond, not 1 byte: other processes on this disk (CI jobs, daemons) free space between
    // our statfs and the listener's, and a run once saw 1 byte beyond turn into room.
    const beyond = free.bavail * free.bsize + 16 * 2 ** 30
    await using tunnel = await forward('/x/no-space')
    const raw = await RawConnection.open(tunnel.port)
    try {
      raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name: 'huge.bin', size: beyond }))
      const reply = await raw.readFrame()
      expect(reply?.type).toBe(Type.error)
      expect(JSON.parse(reply?.payload.toString() ?? '{}')).toMatchObject({ code: 'too-large' })
    } finally {
      raw.destroy()
    }
    expect(await partsIn(inbox)).toEqual([])
  })

  it('resume abuse: reopening a large part again and again reads it at most once, and a real resume still completes intact', {
    timeout: 120_000
  }, async () => {
    const inbox = await makeDir('resume-abuse')
    const size = 64 * 1024 * 1024 + 1000
    const content = randomBytes(size)
    const held = 64 * 1024 * 1024
    // A part left by an earlier run (the listener has no hash state for it yet).
    const part = partPathFor(inbox, pair.a.node.peerId, 'big.bin', size)
    await fs.writeFile(part, content.subarray(0, held))
    const reports: string[] = []
    const received: ReceivedFile[] = []
    await using _listener = await listenForFileTransmissions(
      'resume-abuse',
      file => void received.push(file),
      {
        ipfs: pair.b.ipfs,
        directory: inbox,
        onError: error => void reports.push((error as Error & { code?: string }).code ?? error.name)
      }
    )
    await using tunnel = await forward('/x/resume-abuse')
    const before = bytesRead()
    const reopens = 10
    for (let index = 0; index < reopens; index++) {
      const raw = await RawConnection.open(tunnel.port)
      try {
        raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name: 'big.bin', size, resume: true }))
        const reply = await raw.readFrame()
        // Each reopen is answered at once: accept at the held offset (or busy while the last one winds down).
        if (reply?.type === Type.accept)
          expect(JSON.parse(reply.payload.toString())).toMatchObject({ offset: held })
        else expect(reply?.type).toBe(Type.error)
      } finally {
        raw.destroy()
      }
    }
    // Every reopen has been dealt with (each reported: a closed stream, or busy).
    await expect.poll(() => reports.length, { timeout: 30_000 }).toBe(reopens)
    const read = bytesRead() - before
    // Reading the part once is 64 MiB; ten times would be 640 MiB.
    expect(read).toBeLessThan(held * 1.5)

    // And the part is still good: the sender resumes from the held offset and the digest matches.
    const raw = await RawConnection.open(tunnel.port)
    try {
      raw.write(PREAMBLE, jsonFrame(Type.open, { kind: 'file', name: 'big.bin', size, resume: true }))
      const accept = await raw.readFrame()
      expect(accept?.type).toBe(Type.accept)
      expect(JSON.parse(accept?.payload.toString() ?? '{}')).toMatchObject({ offset: held })
      raw.write(
        frame(Type.chunk, content.subarray(held)),
        frame(Type.end, createHash('sha256').update(content).digest())
      )
      expect((await raw.readFrame(60_000))?.type).toBe(Type.done)
    } finally {
      raw.destroy()
    }
    await expect.poll(() => received.length).toBe(1)
    expect(await sha256File(received[0]?.path ?? '')).toBe(createHash('sha256').update(content).digest('hex'))
    expect(existsSync(part)).toBe(false)
  })
})
