import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { listenForFileTransmissions, type Progress, type ReceivedFile, transmitFile } from '../src/index.js'
import { nextValue, sha256File, startPair, usePair, useTemporaryDirectory } from './helpers.js'

const pair = usePair()
const tmp = useTemporaryDirectory('files')

async function makeDir(name: string): Promise<string> {
  const dir = path.join(tmp.path, name)
  await fs.mkdir(dir, { recursive: true })
  return dir
}

async function makeFile(name: string, size: number): Promise<string> {
  const file = path.join(await makeDir('outgoing'), name)
  await fs.writeFile(file, randomBytes(size))
  return file
}

describe('transmitFile / listenForFileTransmissions', () => {
  it('moves a file with metadata both ways; digest, name and progress check out', async () => {
    const { a, b } = pair
    for (const [from, to] of [
      [a, b],
      [b, a]
    ] as const) {
      const inbox = await makeDir(`inbox-${to.node.peerId.slice(-6)}`)
      const got = nextValue<ReceivedFile>()
      const receiverProgress: number[] = []
      await using _listener = await listenForFileTransmissions('files', file => got.deliver(file), {
        ipfs: to.ipfs,
        directory: inbox,
        onProgress: progress => void receiverProgress.push(progress.bytes)
      })
      const file = await makeFile('report.bin', 5 * 1024 * 1024 + 3)
      const progress: Progress[] = []
      await transmitFile(file, to.node.peerId, 'files', {
        ipfs: from.ipfs,
        metadata: '{"kind":"report"}',
        onProgress: update => void progress.push(update)
      })
      const received = await got.promise
      expect(received).toMatchObject({
        peerId: from.node.peerId,
        name: 'report.bin',
        size: 5 * 1024 * 1024 + 3
      })
      expect(received.path).toBe(path.join(inbox, 'report.bin'))
      expect(new TextDecoder().decode(received.metadata)).toBe('{"kind":"report"}')
      expect(await sha256File(received.path)).toBe(await sha256File(file))
      const bytes = progress.map(update => update.bytes)
      expect(bytes).toEqual([...bytes].sort((x, y) => x - y))
      expect(progress.at(-1)).toMatchObject({ bytes: 5 * 1024 * 1024 + 3, total: 5 * 1024 * 1024 + 3 })
      expect(receiverProgress.at(-1)).toBe(5 * 1024 * 1024 + 3)
      // Nothing but the file: no .part left.
      expect(await fs.readdir(inbox)).toEqual(['report.bin'])
    }
  })

  it('never overwrites: a second file of the same name gets a suffix', async () => {
    const { a, b } = pair
    const inbox = await makeDir('inbox-suffix')
    await fs.writeFile(path.join(inbox, 'same.txt'), 'already here')
    const received: ReceivedFile[] = []
    await using _listener = await listenForFileTransmissions('suffix', file => void received.push(file), {
      ipfs: b.ipfs,
      directory: inbox
    })
    const file = await makeFile('same.txt', 1000)
    await transmitFile(file, b.node.peerId, 'suffix', { ipfs: a.ipfs })
    await transmitFile(file, b.node.peerId, 'suffix', { ipfs: a.ipfs })
    await expect.poll(() => received.length).toBe(2)
    expect(received.map(entry => entry.name)).toEqual(['same (1).txt', 'same (2).txt'])
    expect(await fs.readFile(path.join(inbox, 'same.txt'), 'utf8')).toBe('already here')
    expect((await fs.readdir(inbox)).sort()).toEqual(['same (1).txt', 'same (2).txt', 'same.txt'])
  })

  it('an empty file arrives as an empty file', async () => {
    const { a, b } = pair
    const inbox = await makeDir('inbox-empty')
    const got = nextValue<ReceivedFile>()
    await using _listener = await listenForFileTransmissions('empty', file => got.deliver(file), {
      ipfs: b.ipfs,
      directory: inbox
    })
    await transmitFile(await makeFile('empty.dat', 0), b.node.peerId, 'empty', { ipfs: a.ipfs })
    expect((await fs.stat((await got.promise).path)).size).toBe(0)
  })

  it('abort mid-file: the sender rejects, no file under the final name, and a retry resumes the part', async () => {
    const { a, b } = pair
    const inbox = await makeDir('inbox-abort')
    const received: ReceivedFile[] = []
    // The listener reports the broken-off transfer once it has closed (and kept) the part.
    const brokenOff = nextValue<Error>()
    await using _listener = await listenForFileTransmissions('abortable', file => void received.push(file), {
      ipfs: b.ipfs,
      directory: inbox,
      onError: error => brokenOff.deliver(error)
    })
    const size = 48 * 1024 * 1024
    const file = await makeFile('big.bin', size)
    const controller = new AbortController()
    const sending = transmitFile(file, b.node.peerId, 'abortable', {
      ipfs: a.ipfs,
      signal: controller.signal,
      onProgress: progress => {
        if (progress.bytes >= 8 * 1024 * 1024) controller.abort(new Error('changed my mind'))
      }
    })
    await expect(sending).rejects.toThrow('changed my mind')
    expect((await brokenOff.promise).name).toBe('StreamClosedError')
    expect(existsSync(path.join(inbox, 'big.bin'))).toBe(false)
    expect(received).toEqual([])
    const parts = (await fs.readdir(inbox)).filter(name => name.endsWith('.part'))
    expect(parts).toHaveLength(1)

    // The same file again: continues from the part, and the digest still covers all of it.
    const progress: Progress[] = []
    await transmitFile(file, b.node.peerId, 'abortable', {
      ipfs: a.ipfs,
      onProgress: update => void progress.push(update)
    })
    expect(progress[0]?.bytes).toBeGreaterThan(8 * 1024 * 1024)
    await expect.poll(() => received.length).toBe(1)
    expect(await sha256File(path.join(inbox, 'big.bin'))).toBe(await sha256File(file))
    expect(await fs.readdir(inbox)).toEqual(['big.bin'])
  })

  it('the receiver node stopping mid-file makes the sender reject with a clear error', async () => {
    const fresh = await startPair()
    try {
      const inbox = await makeDir('inbox-stop')
      await using _listener = await listenForFileTransmissions('doomed', () => {}, {
        ipfs: fresh.b.ipfs,
        directory: inbox
      })
      const file = await makeFile('doomed.bin', 64 * 1024 * 1024)
      let stopping: Promise<void> | undefined
      const started = Date.now()
      const error = await transmitFile(file, fresh.b.node.peerId, 'doomed', {
        ipfs: fresh.a.ipfs,
        timeout: 60_000,
        retries: 1,
        onProgress: progress => {
          if (progress.bytes >= 4 * 1024 * 1024) stopping ??= fresh.b.node.stop()
        }
      }).catch((caught: unknown) => caught as Error)
      await stopping
      expect(error?.name).toMatch(/StreamClosedError|TransmissionError/)
      expect(Date.now() - started).toBeLessThan(60_000)
      expect(existsSync(path.join(inbox, 'doomed.bin'))).toBe(false)
    } finally {
      await fresh.stop()
    }
  })

  it('rejects a missing file and bad metadata before any request', async () => {
    await expect(
      transmitFile(path.join(tmp.path, 'missing'), pair.b.node.peerId, 'files')
    ).rejects.toMatchObject({
      argument: 'filePath'
    })
    await expect(
      transmitFile(await makeFile('m.txt', 1), pair.b.node.peerId, 'files', {
        metadata: new Uint8Array(64 * 1024)
      })
    ).rejects.toMatchObject({ argument: 'metadata' })
  })
})
