import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { InvalidArgumentError } from '@tk/rpc'
import { TransmissionError } from '../errors.js'
import { publishPart, sanitizeFileName } from '../file-names.js'
import type { ReceivedFile } from '../listener.js'
import { ENCRYPTION_ALLOWANCE, type Transform } from '../options.js'
import type { Progress } from '../sender.js'
import { decodeB255, encodeB255, FIELD_SEPARATOR, fromUtf8, joinFields, splitFields, utf8 } from './b255.js'
import { sendPythonTransmission } from './exchange.js'
import { PythonInbox } from './inbox.js'
import type { PythonNode } from './node.js'
import {
  CONVERSATION_JOINED,
  CONVERSATION_REQUEST,
  FILE_READY,
  PYTHON_BLOCK_SIZE,
  parseHandshake
} from './wire.js'

/** What both file directions need: the node, the peer, encryption, the idle limit, cancellation. */
export interface PythonFileContext {
  client: PythonNode
  /** The peer, as Kubo authenticated it (receiving) or as the caller named it (sending). */
  peerId: string
  /** Applied to every message after the handshake (the header, `ready`, each block). */
  encrypt?: Transform
  /** Undoes the peer's `encrypt` on every message after the handshake. */
  decrypt?: Transform
  /** No message from the peer for this long fails the transfer (ms). */
  idleTimeout: number
  signal: AbortSignal
}

export interface ReceivePythonFileOptions extends PythonFileContext {
  /** The sender's conversation listener, from its request (`<file name>_conv` for ipfs_tk). */
  conversationName: string
  directory: string
  /** Largest file taken (bytes); the sender is not told `ready` beyond it. */
  maxFileSize: number
  /** Largest block taken (bytes on the wire). */
  maxBlockSize: number
  onProgress?: (progress: Progress & { peerId: string; name: string }) => void
}

/**
 * Receives one file from a Python `transmit_file`, after its conversation request: joins that
 * conversation, reads the header (`b255(size) 0xFF name 0xFF metadata`), answers `ready`, and
 * writes the blocks into a `.part` file that gets its sanitized, never-overwriting name once all
 * `size` bytes are in. The Python format has no digest: the size is all that is checked.
 */
export async function receivePythonFile(options: ReceivePythonFileOptions): Promise<ReceivedFile> {
  const { client, peerId, signal, idleTimeout } = options
  const inbox = await PythonInbox.open(client, PythonInbox.uniqueName(options.conversationName), {
    peerId,
    maxSize: options.maxBlockSize,
    idleTimeout,
    // Everything after our join is encrypted by a Python sender with encryption callbacks.
    transform: options.decrypt
  })
  const part = path.join(options.directory, `.tk-py-${randomBytes(9).toString('hex')}.part`)
  let file: fs.FileHandle | undefined
  const say = async (message: Uint8Array): Promise<void> => {
    const payload = options.encrypt == null ? message : await options.encrypt(message)
    await sendPythonTransmission(client, peerId, `/x/${options.conversationName}`, payload, options)
  }
  try {
    await sendPythonTransmission(
      client,
      peerId,
      `/x/${options.conversationName}`,
      joinFields([utf8(CONVERSATION_JOINED), utf8(inbox.name)]),
      options
    )
    const header = parseFileHeader(await inbox.next(idleTimeout, signal), peerId)
    if (header.size > options.maxFileSize) {
      throw new TransmissionError(
        'too-large',
        `${header.size} bytes is beyond this listener's ${options.maxFileSize}; the Python sender was not told ready`,
        { peerId }
      )
    }
    const name = sanitizeFileName(header.name)
    file = await fs.open(part, 'wx')
    await say(utf8(FILE_READY))
    let written = 0
    const started = Date.now()
    const report = (): void =>
      options.onProgress?.({
        peerId,
        name,
        bytes: written,
        total: header.size,
        rate: written / Math.max((Date.now() - started) / 1000, 0.001)
      })
    report()
    while (written < header.size) {
      const block = await inbox.next(idleTimeout, signal)
      if (written + block.byteLength > header.size) {
        throw new TransmissionError(
          'too-large',
          `the Python sender announced ${header.size} bytes and sent more`,
          {
            peerId
          }
        )
      }
      await file.write(block, 0, block.byteLength, written)
      written += block.byteLength
      report()
    }
    await file.sync()
    await file.close()
    file = undefined
    const finalPath = await publishPart(part, options.directory, name)
    return {
      peerId,
      path: finalPath,
      name: path.basename(finalPath),
      size: header.size,
      metadata: header.metadata
    }
  } finally {
    await file?.close().catch(() => {})
    await fs.rm(part, { force: true })
    await inbox.close()
  }
}

interface FileHeader {
  size: number
  name: string
  metadata: Uint8Array
}

/**
 * `b255(size) 0xFF name 0xFF metadata`. A UTF-8 name never holds 0xFF and the metadata is
 * everything after the second separator, so only a size with a digit 0xFF is ambiguous, and that
 * header breaks the Python receiver as well.
 */
function parseFileHeader(bytes: Uint8Array, peerId: string): FileHeader {
  const fields = splitFields(bytes, 3)
  const [size, name, metadata] = fields ?? []
  const text = name == null ? undefined : fromUtf8(name)
  if (size == null || metadata == null || text == null) {
    throw new TransmissionError('protocol', 'an unreadable Python file header', { peerId })
  }
  let bytesInFile: number
  try {
    bytesInFile = decodeB255(size)
  } catch {
    throw new TransmissionError('protocol', 'a Python file header with an unreadable size', { peerId })
  }
  return { size: bytesInFile, name: text, metadata: metadata.slice() }
}

export interface SendPythonFileOptions extends PythonFileContext {
  /** The receiver's file listener, or `<its conversation name>:files` inside a conversation. */
  protocol: string
  filePath: string
  /** The name the receiver is told (default: the file's base name). */
  name?: string
  metadata?: Uint8Array
  onProgress?: (progress: Progress) => void
}

/**
 * Throws unless a Python receiver can read the header for this file: its own format splits the
 * header at every 0xFF, so metadata with one, or a size whose base-255 form has a digit 0xFF,
 * would leave it waiting forever.
 */
export function checkPythonFileHeader(size: number, metadata: Uint8Array | undefined): void {
  if (metadata?.includes(FIELD_SEPARATOR) === true) {
    throw new InvalidArgumentError(
      'metadata',
      'the Python IPFS-Toolkit cannot receive metadata that holds the byte 0xFF'
    )
  }
  if (encodeB255(size).includes(FIELD_SEPARATOR)) {
    throw new InvalidArgumentError(
      'filePath',
      `the Python IPFS-Toolkit cannot receive a file of ${size} bytes: its header format breaks on that size (one byte more or less works)`
    )
  }
}

/**
 * Sends a file the way Python's `transmit_file` does: a conversation of its own (our inbox, the
 * request, the receiver's join), the header, and after `ready` one transmission per 1 MiB block.
 * Resolves when the last block was answered `Finished!`.
 */
export async function sendPythonFile(options: SendPythonFileOptions): Promise<void> {
  const { client, peerId, signal, idleTimeout } = options
  const stat = await fs.stat(options.filePath)
  checkPythonFileHeader(stat.size, options.metadata)
  const name = options.name ?? path.basename(options.filePath)
  // The join arrives in the clear, `ready` encrypted: `decrypt` is set in between.
  const inbox = await PythonInbox.open(client, PythonInbox.uniqueName('tk_file'), {
    peerId,
    maxSize: 64 * 1024 + ENCRYPTION_ALLOWANCE,
    idleTimeout
  })
  try {
    await sendPythonTransmission(
      client,
      peerId,
      options.protocol,
      joinFields([utf8(CONVERSATION_REQUEST), utf8(inbox.name)]),
      options
    )
    const joined = parseHandshake(await inbox.next(idleTimeout, signal), CONVERSATION_JOINED)
    if (joined == null) {
      throw new TransmissionError('protocol', 'the Python receiver did not join the file transfer', {
        remote: true,
        peerId
      })
    }
    inbox.transform = options.decrypt
    const theirs = `/x/${joined.name}`
    const say = async (message: Uint8Array): Promise<void> => {
      const payload = options.encrypt == null ? message : await options.encrypt(message)
      await sendPythonTransmission(client, peerId, theirs, payload, options)
    }
    await say(joinFields([encodeB255(stat.size), utf8(name), options.metadata ?? new Uint8Array(0)]))
    // ipfs_tk reads the first 0xFF-separated field of the answer.
    const answer = await inbox.next(idleTimeout, signal)
    const ready = splitFields(answer, 2)?.[0] ?? answer
    if (fromUtf8(ready) !== FILE_READY) {
      throw new TransmissionError('protocol', 'the Python receiver did not answer ready to the file header', {
        remote: true,
        peerId
      })
    }
    const started = Date.now()
    let sent = 0
    for await (const chunk of createReadStream(options.filePath, {
      highWaterMark: PYTHON_BLOCK_SIZE,
      signal
    })) {
      const block = chunk as Buffer
      await say(block)
      sent += block.byteLength
      options.onProgress?.({
        bytes: sent,
        total: stat.size,
        rate: sent / Math.max((Date.now() - started) / 1000, 0.001)
      })
    }
    if (sent !== stat.size) {
      throw new TransmissionError(
        'internal',
        `${options.filePath} changed while it was sent (${sent} of ${stat.size} bytes)`,
        {
          peerId
        }
      )
    }
    if (stat.size === 0) options.onProgress?.({ bytes: 0, total: 0, rate: 0 })
  } finally {
    await inbox.close()
  }
}
