import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { raceSignal } from 'race-signal'
import { Conversation, type ConversationOptions } from '../conversation.js'
import { StreamClosedError, TransmissionError } from '../errors.js'
import { FrameStream } from '../frame-stream.js'
import {
  CHUNK_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_TIMEOUT,
  ENCRYPTION_ALLOWANCE,
  MAX_CONTROL_FRAME,
  withDeadline
} from '../options.js'
import {
  type ErrorCode,
  type FileDoneBody,
  type FileOpenHeader,
  FrameType,
  readId,
  withId
} from '../protocol.js'
import { createStreamPair } from '../stream-pair.js'
import { joinFields, utf8 } from './b255.js'
import { sendPythonTransmission } from './exchange.js'
import { receivePythonFile, sendPythonFile } from './files.js'
import { PythonInbox } from './inbox.js'
import type { PythonNode } from './node.js'
import { CONVERSATION_JOINED, CONVERSATION_REQUEST, parseHandshake } from './wire.js'

/** How long our own `Conversation` may take to store a file the bridge hands it (ms). */
const LOCAL_FILE_TIMEOUT = 120_000
/** A Python peer's conversation request on `<name>:files` is short: a prelude and a name. */
const MAX_FILE_REQUEST_BYTES = 64 * 1024

export interface PythonConversationOptions extends ConversationOptions {
  /** No message from the peer for this long fails a file transfer or a handshake (ms). */
  idleTimeout: number
}

/**
 * Starts a conversation with a Python `listen_for_conversations` listener: our inboxes
 * `/x/<name>` and `/x/<name>:files` first (the Python joiner answers there), then the request,
 * then its join. `signal` bounds the handshake only.
 */
export async function startPythonConversation(
  client: PythonNode,
  conversationName: string,
  peerId: string,
  listenerProtocol: string,
  options: PythonConversationOptions,
  signal: AbortSignal
): Promise<Conversation> {
  const inboxes = await openInboxesWithin(signal, client, conversationName, peerId, options, false)
  try {
    await sendPythonTransmission(
      client,
      peerId,
      listenerProtocol,
      joinFields([utf8(CONVERSATION_REQUEST), utf8(conversationName)]),
      { signal, idleTimeout: options.idleTimeout }
    )
    // The Python listener answers with its join from a thread of its own; if its handler failed it
    // never does, and only `signal` (the caller's timeout) ends this wait.
    const joined = parseHandshake(await inboxes.messages.next(0, signal), CONVERSATION_JOINED)
    if (joined == null) {
      throw new TransmissionError(
        'protocol',
        'the Python peer answered the conversation request with no join',
        {
          remote: true,
          peerId
        }
      )
    }
    return await bridge(client, conversationName, peerId, joined.name, inboxes, options)
  } catch (error) {
    await inboxes.close()
    throw signal.aborted ? signal.reason : error
  }
}

/**
 * Joins a conversation a Python peer started (its request named `conversationName`): our inboxes
 * under that name as ipfs_tk does (or a unique one when this node already has it), then our join
 * to the starter's `/x/<conversationName>`. Bounded by `signal` and by a deadline of its own
 * (the default timeout), so a `join()` always settles.
 */
export async function joinPythonConversation(
  client: PythonNode,
  conversationName: string,
  peerId: string,
  options: PythonConversationOptions,
  signal: AbortSignal
): Promise<Conversation> {
  return await withDeadline({ signal }, DEFAULT_TIMEOUT, async deadline => {
    const inboxes = await openInboxesWithin(deadline, client, conversationName, peerId, options, true)
    try {
      await sendPythonTransmission(
        client,
        peerId,
        `/x/${conversationName}`,
        joinFields([utf8(CONVERSATION_JOINED), utf8(inboxes.messages.name)]),
        { signal: deadline, idleTimeout: options.idleTimeout }
      )
      return await bridge(client, conversationName, peerId, conversationName, inboxes, options)
    } catch (error) {
      await inboxes.close()
      throw deadline.aborted ? deadline.reason : error
    }
  })
}

/** {@link openInboxes}, given up when `signal` aborts (inboxes that open later are closed at once). */
async function openInboxesWithin(
  signal: AbortSignal,
  ...args: Parameters<typeof openInboxes>
): Promise<Inboxes> {
  const opening = openInboxes(...args)
  try {
    return await raceSignal(opening, signal)
  } catch (error) {
    void opening.then(
      async inboxes => await inboxes.close(),
      () => {
        // Failed to open after all: nothing to close.
      }
    )
    throw error
  }
}

interface Inboxes {
  messages: PythonInbox
  files: PythonInbox
  close(): Promise<void>
}

async function openInboxes(
  client: PythonNode,
  name: string,
  peerId: string,
  options: PythonConversationOptions,
  fallBack: boolean
): Promise<Inboxes> {
  const maxSize = (options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE) + ENCRYPTION_ALLOWANCE
  const init = { peerId, maxSize, maxBytes: options.maxInboxBytes, idleTimeout: options.idleTimeout }
  let messages: PythonInbox
  try {
    messages = await PythonInbox.open(client, name, init)
  } catch (error) {
    if (!fallBack) throw error
    // The joiner may answer from any name: this node already serves this one (another conversation).
    messages = await PythonInbox.open(client, PythonInbox.uniqueName(name), init)
  }
  let files: PythonInbox
  try {
    files = await PythonInbox.open(client, `${messages.name}:files`, {
      peerId,
      maxSize: MAX_FILE_REQUEST_BYTES,
      idleTimeout: options.idleTimeout
    })
  } catch (error) {
    await messages.close()
    throw error
  }
  return {
    messages,
    files,
    close: async () => {
      await Promise.all([messages.close(), files.close()])
    }
  }
}

/**
 * Presents the Python conversation as one of our own streams: a `Conversation` on one end of a
 * loopback socket pair, this translator on the other. Messages become Python transmissions (the
 * `messageAck` follows its `Finished!`), Python messages become `message` frames, and files go
 * through a temporary copy both ways, so that `Conversation` stores them as it stores ours
 * (sanitized name, never overwriting, SHA-256 over what the bridge received).
 */
async function bridge(
  client: PythonNode,
  name: string,
  peerId: string,
  theirName: string,
  inboxes: Inboxes,
  options: PythonConversationOptions
): Promise<Conversation> {
  inboxes.messages.transform = options.decrypt
  // The bridge's end says who is on the other side; ours says the Python peer.
  const [ours, theirs] = createStreamPair(peerId, peerId)
  const conversation = new Conversation(
    name,
    peerId,
    new FrameStream(ours, { maxFrame: MAX_CONTROL_FRAME, idleTimeout: 0, peerId }),
    // The conversation's own limits: its inbox (with the Python inbox's, which takes the same
    // `maxInboxBytes`) is what holds a slow reader's unread messages.
    {
      directory: options.directory,
      maxMessageSize: options.maxMessageSize,
      maxFileSize: options.maxFileSize,
      maxInboxBytes: options.maxInboxBytes,
      maxUnreadFiles: options.maxUnreadFiles,
      maxUnreadFileBytes: options.maxUnreadFileBytes
    }
  )
  const local = new FrameStream(theirs, {
    maxFrame:
      Math.max(options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, CHUNK_SIZE) + ENCRYPTION_ALLOWANCE + 4,
    idleTimeout: 0,
    peerId
  })
  new PythonConversationBridge(client, peerId, theirName, inboxes, local, options).start()
  return conversation
}

interface OutgoingFile {
  header: FileOpenHeader
  directory: string
  file: fs.FileHandle
  hash: ReturnType<typeof createHash>
  written: number
}

class PythonConversationBridge {
  readonly #client: PythonNode
  readonly #peerId: string
  readonly #theirs: string
  readonly #inboxes: Inboxes
  readonly #local: FrameStream
  readonly #options: PythonConversationOptions
  readonly #controller = new AbortController()
  /** Python messages go out one at a time and in order, as `say` does there. */
  #messages: Promise<void> = Promise.resolve()
  /** Files the Conversation sends, one at a time (it waits for each `fileDone`). */
  #files: Promise<void> = Promise.resolve()
  #outgoing: OutgoingFile | undefined
  #nextMessageId = 1
  #nextFileId = 1
  readonly #fileDone = new Map<number, (body: FileDoneBody) => void>()
  #ended = false

  constructor(
    client: PythonNode,
    peerId: string,
    theirName: string,
    inboxes: Inboxes,
    local: FrameStream,
    options: PythonConversationOptions
  ) {
    this.#client = client
    this.#peerId = peerId
    this.#theirs = `/x/${theirName}`
    this.#inboxes = inboxes
    this.#local = local
    this.#options = options
    // Every wait of the conversation (both inboxes, each message's sockets and replies, a file
    // in each direction) listens to this one signal at once: more than Node's default of 10.
    setMaxListeners(100, this.#controller.signal)
  }

  start(): void {
    void this.#fromConversation()
    void this.#fromPythonMessages()
    void this.#fromPythonFiles()
  }

  /** Frames our Conversation writes. */
  async #fromConversation(): Promise<void> {
    try {
      for (;;) {
        const frame = await this.#local.read()
        switch (frame.type) {
          case FrameType.message: {
            const { id, rest } = readId(frame.payload)
            const message = rest.slice()
            this.#messages = this.#messages.then(() => this.#say(id, message))
            break
          }
          case FrameType.messageAck:
            // Python messages were acknowledged with `Finished!` when they arrived.
            break
          case FrameType.close:
            // Python conversations have no close on the wire: ending means dropping our tunnels.
            await this.#end()
            return
          case FrameType.fileOpen:
            await this.#openOutgoing(JSON.parse(new TextDecoder().decode(frame.payload)) as FileOpenHeader)
            break
          case FrameType.fileChunk:
            await this.#writeOutgoing(frame.payload)
            break
          case FrameType.fileEnd:
            await this.#finishOutgoing(frame.payload)
            break
          case FrameType.fileDone: {
            const body = JSON.parse(new TextDecoder().decode(frame.payload)) as FileDoneBody
            this.#fileDone.get(body.id)?.(body)
            break
          }
          default:
            throw new TransmissionError('protocol', `unexpected frame ${frame.type}`)
        }
      }
    } catch (error) {
      await this.#fail(error)
    }
  }

  async #say(id: number, message: Uint8Array): Promise<void> {
    if (this.#ended) return
    try {
      const payload = this.#options.encrypt == null ? message : await this.#options.encrypt(message)
      await sendPythonTransmission(this.#client, this.#peerId, this.#theirs, payload, {
        signal: this.#controller.signal,
        idleTimeout: this.#options.idleTimeout
      })
      await this.#local.write(FrameType.messageAck, withId(id, new Uint8Array(0)))
    } catch (error) {
      await this.#fail(error)
    }
  }

  async #openOutgoing(header: FileOpenHeader): Promise<void> {
    if (this.#outgoing != null || !Number.isSafeInteger(header.id) || !Number.isSafeInteger(header.size)) {
      throw new TransmissionError('protocol', 'a bad file header from the conversation')
    }
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-py-out-'))
    this.#outgoing = {
      header,
      directory,
      file: await fs.open(path.join(directory, 'file'), 'w'),
      hash: createHash('sha256'),
      written: 0
    }
  }

  async #writeOutgoing(payload: Uint8Array): Promise<void> {
    const { id, rest } = readId(payload)
    const outgoing = this.#outgoing
    if (outgoing == null || outgoing.header.id !== id)
      throw new TransmissionError('protocol', 'a chunk of no file')
    outgoing.hash.update(rest)
    await outgoing.file.write(rest, 0, rest.byteLength, outgoing.written)
    outgoing.written += rest.byteLength
  }

  async #finishOutgoing(payload: Uint8Array): Promise<void> {
    const { id, rest } = readId(payload)
    const outgoing = this.#outgoing
    if (outgoing == null || outgoing.header.id !== id)
      throw new TransmissionError('protocol', 'the end of no file')
    this.#outgoing = undefined
    await outgoing.file.close()
    const intact =
      outgoing.written === outgoing.header.size && Buffer.from(rest).equals(outgoing.hash.digest())
    this.#files = this.#files.then(async () => {
      let done: FileDoneBody = { id, ok: true }
      try {
        if (!intact)
          throw new TransmissionError('digest-mismatch', 'the file changed on its way to the bridge')
        await sendPythonFile({
          client: this.#client,
          peerId: this.#peerId,
          protocol: `${this.#theirs}:files`,
          filePath: path.join(outgoing.directory, 'file'),
          name: outgoing.header.name,
          metadata:
            outgoing.header.metadata == null
              ? undefined
              : new Uint8Array(Buffer.from(outgoing.header.metadata, 'base64')),
          encrypt: this.#options.encrypt,
          decrypt: this.#options.decrypt,
          idleTimeout: this.#options.idleTimeout,
          signal: this.#controller.signal
        })
      } catch (error) {
        done = { id, ok: false, code: codeOf(error), message: (error as Error).message.slice(0, 300) }
      } finally {
        await fs.rm(outgoing.directory, { recursive: true, force: true })
      }
      if (!this.#ended) await this.#local.writeJson(FrameType.fileDone, done).catch(() => {})
    })
  }

  /** Messages the Python peer says. */
  async #fromPythonMessages(): Promise<void> {
    try {
      for (;;) {
        const message = await this.#inboxes.messages.next(0, this.#controller.signal)
        await this.#local.write(FrameType.message, withId(this.#nextMessageId++, message))
      }
    } catch (error) {
      await this.#fail(error)
    }
  }

  /** Files the Python peer sends (each its own Python conversation on `<our name>:files`). */
  async #fromPythonFiles(): Promise<void> {
    try {
      for (;;) {
        const request = await this.#inboxes.files.next(0, this.#controller.signal)
        const handshake = parseHandshake(request, CONVERSATION_REQUEST)
        // Not a file transfer's request: nothing in ipfs_tk sends anything else here.
        if (handshake == null) continue
        const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-py-in-'))
        try {
          const received = await receivePythonFile({
            client: this.#client,
            peerId: this.#peerId,
            conversationName: handshake.name,
            directory,
            // Checked here from the Python header, before `ready`: nothing beyond it is received.
            maxFileSize: this.#options.maxFileSize ?? Number.MAX_SAFE_INTEGER,
            maxBlockSize: (this.#options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE) + ENCRYPTION_ALLOWANCE,
            encrypt: this.#options.encrypt,
            decrypt: this.#options.decrypt,
            idleTimeout: this.#options.idleTimeout,
            signal: this.#controller.signal
          })
          await this.#handOver(received.path, received.name, received.size, received.metadata)
        } catch (error) {
          // One failed file does not end the conversation (a Python sender just sees its transfer fail).
          if (this.#ended) return
          if (!(error instanceof TransmissionError || error instanceof StreamClosedError)) throw error
        } finally {
          await fs.rm(directory, { recursive: true, force: true })
        }
      }
    } catch (error) {
      await this.#fail(error)
    }
  }

  /** Streams a received file into our Conversation as if the peer had sent it our way. */
  async #handOver(file: string, name: string, size: number, metadata: Uint8Array): Promise<void> {
    const id = this.#nextFileId++
    const done = new Promise<FileDoneBody>((resolve, reject) => {
      this.#fileDone.set(id, resolve)
      setTimeout(
        () => reject(new TransmissionError('internal', 'the conversation did not store the file in time')),
        LOCAL_FILE_TIMEOUT
      ).unref()
    })
    // Awaited below; this only keeps a rejection after an earlier failure from going unhandled.
    done.catch(() => {})
    try {
      await this.#local.writeJson(FrameType.fileOpen, {
        id,
        name,
        size,
        metadata: Buffer.from(metadata).toString('base64')
      } satisfies FileOpenHeader)
      const hash = createHash('sha256')
      for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_SIZE })) {
        hash.update(chunk as Buffer)
        await this.#local.write(FrameType.fileChunk, withId(id, chunk as Buffer))
      }
      await this.#local.write(FrameType.fileEnd, withId(id, hash.digest()))
      await done
    } finally {
      this.#fileDone.delete(id)
    }
  }

  /** Ends the bridge after a failure: our Conversation hears why (an `error` frame) and ends too. */
  async #fail(error: unknown): Promise<void> {
    if (this.#ended) return
    const failure = error instanceof Error ? error : new Error(String(error))
    await this.#local.fail({ code: codeOf(failure), message: failure.message.slice(0, 300) })
    await this.#end()
  }

  async #end(): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    this.#controller.abort(new StreamClosedError('The conversation ended', this.#peerId))
    if (this.#outgoing != null) {
      await this.#outgoing.file.close().catch(() => {})
      await fs.rm(this.#outgoing.directory, { recursive: true, force: true })
    }
    await this.#inboxes.close()
    this.#local.close()
  }
}

function codeOf(error: unknown): ErrorCode {
  if (error instanceof TransmissionError) return error.code
  if (error instanceof StreamClosedError) return 'aborted'
  return 'internal'
}
