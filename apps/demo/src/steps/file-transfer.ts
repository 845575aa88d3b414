import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { ReceivedFile } from '@tk/transmission'
import { ARRIVAL_TIMEOUT, FILE_STEP_TIMEOUT } from '../constants.js'
import { CheckFailedError } from '../errors.js'
import { formatBytes, formatDuration, formatRate } from '../format.js'
import { deferred, waitFor } from '../wait.js'
import { type Step, secondNode, TRANSMISSION_HINT, transmissionsOf, uniqueSuffix } from './step.js'

const WRITE_BLOCK = 1024 * 1024

/** Step 6: a file of tens of MiB from A to B with a live progress bar, compared by SHA-256 on both ends. */
export const fileTransferStep: Step = {
  id: 'file',
  name: 'File transfer',
  title: 'File transfer: a large file from A to B, with progress',
  needs: [],
  requiresTwoNodes: true,
  timeout: FILE_STEP_TIMEOUT,
  hint: `${TRANSMISSION_HINT} A slow disk or a busy machine may need a smaller --size.`,
  async run(context) {
    const { a, output, signal, workDirectory, fileSize, defer } = context
    const b = secondNode(context)
    const { atA, atB } = transmissionsOf(a, b, defer)
    const outbox = path.join(workDirectory, 'outbox')
    const downloads = path.join(workDirectory, 'downloads')
    await fs.mkdir(outbox, { recursive: true })
    await fs.mkdir(downloads, { recursive: true })
    const file = path.join(outbox, `random-${fileSize / (1024 * 1024)}MiB.bin`)
    const sentDigest = await writeRandomFile(file, fileSize, signal)
    output.line(`A made ${formatBytes(fileSize)} of random bytes, SHA-256 ${sentDigest.slice(0, 16)}…`)

    const listenerName = `tk-demo-files-${uniqueSuffix()}`
    const arrived = deferred<ReceivedFile>()
    const listener = await atB.listenForFileTransmissions(
      listenerName,
      received => arrived.resolve(received),
      {
        directory: downloads,
        signal
      }
    )
    defer(async () => await listener.close())

    const bar = output.progress('A → B')
    const started = Date.now()
    try {
      await atA.transmitFile(file, b.peerId, listenerName, {
        signal,
        onProgress: progress => bar.update(progress)
      })
    } finally {
      bar.done()
    }
    const elapsed = Date.now() - started
    const received = await waitFor(arrived.promise, 'the file reaching B', ARRIVAL_TIMEOUT, signal)
    // transmitFile already knows B checked the digest; hashing B's copy here shows it to the reader.
    const receivedDigest = await sha256File(received.path)
    if (receivedDigest !== sentDigest || received.size !== fileSize) {
      throw new CheckFailedError(
        `B's copy (${received.size} bytes, SHA-256 ${receivedDigest}) differs from A's`
      )
    }
    output.line(`B saved it as ${received.path}, SHA-256 ${receivedDigest.slice(0, 16)}… (the same)`)
    const rate = fileSize / Math.max(elapsed / 1000, 0.001)
    return {
      summary: `${formatBytes(fileSize)} in ${formatDuration(elapsed)} (${formatRate(rate)}), identical on both ends`,
      details: { bytes: fileSize, sha256: sentDigest, receivedSha256: receivedDigest, milliseconds: elapsed }
    }
  }
}

/** Writes `size` random bytes to `file` a block at a time and returns their SHA-256 (hex). */
async function writeRandomFile(file: string, size: number, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  const handle = await fs.open(file, 'w')
  try {
    for (let written = 0; written < size; written += WRITE_BLOCK) {
      signal.throwIfAborted()
      const block = randomBytes(Math.min(WRITE_BLOCK, size - written))
      hash.update(block)
      await handle.write(block)
    }
  } finally {
    await handle.close()
  }
  return hash.digest('hex')
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
