import { createHash, randomBytes } from 'node:crypto'
import { constants, createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { StreamSource } from '@tk/interface'
import { InvalidArgumentError } from '@tk/rpc'
import { raceSignal } from 'race-signal'
import { StreamClosedError, TransmissionError } from './errors.js'
import { publishPart, sanitizeFileName } from './file-names.js'
import type { FrameStream } from './frame-stream.js'
import {
  type ForeignHook,
  type Listener,
  type ListenerPlugin,
  type ListenOptions,
  type ReceivedFile,
  startListener
} from './listener.js'
import {
  type CallOptions,
  CHUNK_SIZE,
  callDeadline,
  checkedPeerId,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_TIMEOUT,
  ENCRYPTION_ALLOWANCE,
  protocolFor,
  resolvePeer,
  type Transform,
  withDeadline
} from './options.js'
import {
  type CloseBody,
  type ErrorCode,
  type FileDoneBody,
  type FileOpenHeader,
  FrameType,
  readId,
  withId
} from './protocol.js'
import {
  checkedMetadata,
  explain,
  openStream,
  type SenderPlugin,
  type TransmitFileOptions,
  type TransmitOptions
} from './sender.js'

export interface ConversationOptions {
  /** Applied to every message and file chunk this side sends. */
  encrypt?: Transform
  /** Undoes the other side's `encrypt`. */
  decrypt?: Transform
  /**
   * Where files the peer sends in this conversation are stored; default a private directory of
   * this conversation's own (`fs.mkdtemp` in the OS temp dir, mode 0700), made at the first file.
   */
  directory?: string
  /** Largest message taken from the peer (bytes); default 32 MiB. */
  maxMessageSize?: number
  /** Largest file taken from the peer (bytes); default no limit (but see `maxUnreadFileBytes`). */
  maxFileSize?: number
  /**
   * Bytes of received messages not yet read (`listen`, `for await`) beyond which this side stops
   * reading the stream, so the peer's `say()` waits (TCP backpressure); default 8 MiB. One more
   * message is always taken below it, so memory stays under this plus `maxMessageSize`.
   */
  maxInboxBytes?: number
  /** Received files not yet taken with `listenForFile` beyond which a new file is refused (`busy`); default 16. */
  maxUnreadFiles?: number
  /** Bytes of such files (the new one included) beyond which a new file is refused (`busy`); default 1 GiB. */
  maxUnreadFileBytes?: number
}

export interface StartConversationOptions extends TransmitOptions, ConversationOptions {
  /** Talk another wire format (a plug-in, e.g. `ipfsToolkitPy()` of `@tk/transmission/python`); default ours. */
  wire?: ConversationSenderPlugin
}

export type ConversationHandler = (request: ConversationRequest) => void | Promise<void>

/** A sender plug-in that can also start conversations in its wire format. */
export interface ConversationSenderPlugin extends SenderPlugin {
  startConversation?(
    conversationName: string,
    peerId: string,
    protocol: string,
    options: StartConversationOptions,
    signal: AbortSignal
  ): Promise<Conversation>
}

/** A listener plug-in that can also serve conversation requests of its wire format. */
export interface ConversationListenerPlugin extends ListenerPlugin {
  conversationHook?(options: ListenOptions, handler: ConversationHandler): ForeignHook
}

export interface ConversationListenOptions extends ListenOptions {
  /** Also serve starters of another wire format (a plug-in, e.g. `ipfsToolkitPy()` of `@tk/transmission/python`). */
  wire?: ConversationListenerPlugin
}

/** How long close() waits for its `close` frame to go out and for the peer to hang up (ms). */
const CLOSE_GRACE_MS = 1_000
/** Unread message bytes beyond which we stop reading: a slow reader slows the peer, not our memory. */
export const DEFAULT_MAX_INBOX_BYTES = 8 * 1024 * 1024
/** Files a peer may leave unread in a conversation: enough for a batch, not a flood. */
export const DEFAULT_MAX_UNREAD_FILES = 16
/** Disk a peer may fill with unread files in one conversation. */
export const DEFAULT_MAX_UNREAD_FILE_BYTES = 1024 * 1024 * 1024
/**
 * How a part file is opened: created here and now (never an existing file, never through a
 * planted symlink), writable by us only.
 */
const PART_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0)

/**
 * Two peers talking over one stream: `say()` resolves when the peer has the message; `listen()`
 * and `for await` read what the peer says; files travel on the same stream. `close()` tells the
 * peer, whose iteration then ends.
 */
export class Conversation implements AsyncIterable<Uint8Array>, AsyncDisposable {
  /** The conversation's name, as the starter gave it. */
  readonly name: string
  /** The other peer (authenticated by Kubo on the listening side). */
  readonly peerId: string
  /** Resolves when the conversation has ended, with who ended it. */
  readonly closed: Promise<{ by: 'us' | 'peer' | 'error'; reason?: string }>
  readonly #stream: FrameStream
  readonly #options: ConversationOptions
  readonly #inbox: Uint8Array[] = []
  #inboxBytes = 0
  readonly #files: ReceivedFile[] = []
  #unreadFileBytes = 0
  /** The directory files from the peer go to, once the first one arrives. */
  #directory: Promise<string> | undefined
  #waiters: Array<() => void> = []
  readonly #pendingAcks = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
  #fileDone: { id: number; resolve: (body: FileDoneBody) => void; reject: (error: Error) => void } | undefined
  #nextMessageId = 1
  #nextFileId = 1
  #sendingFile: Promise<void> = Promise.resolve()
  #ended: Error | undefined
  #closing: Promise<void> | undefined
  #markClosed: (value: { by: 'us' | 'peer' | 'error'; reason?: string }) => void = () => {}

  constructor(name: string, peerId: string, stream: FrameStream, options: ConversationOptions) {
    this.name = name
    this.peerId = peerId
    this.#stream = stream
    this.#options = options
    this.closed = new Promise(resolve => {
      this.#markClosed = resolve
    })
    stream.idleTimeout = 0
    stream.maxFrame =
      Math.max(options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, CHUNK_SIZE) + ENCRYPTION_ALLOWANCE + 4
    void this.#readLoop()
  }

  /**
   * Sends one message; resolves when the peer has received it. On a timeout or abort the message
   * may still reach the peer: only the wait for its answer ends.
   */
  async say(data: Uint8Array | string, options: CallOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
    if (!(bytes instanceof Uint8Array))
      throw new InvalidArgumentError('data', 'expected a Uint8Array or a string')
    this.#checkOpen()
    await withDeadline(options, DEFAULT_TIMEOUT, async signal => {
      const id = this.#nextMessageId++
      const acknowledged = new Promise<void>((resolve, reject) =>
        this.#pendingAcks.set(id, { resolve, reject })
      )
      // Awaited below; this only keeps an end of the conversation during the write from going unhandled.
      acknowledged.catch(() => {})
      try {
        const payload = this.#options.encrypt == null ? bytes : await this.#options.encrypt(bytes)
        await this.#stream.write(FrameType.message, withId(id, payload), signal)
        await raceSignal(acknowledged, signal)
      } catch (error) {
        this.#pendingAcks.delete(id)
        throw explain(error, signal, this.peerId, this.#stream)
      }
    })
  }

  /** The next message from the peer; rejects with `StreamClosedError` once the conversation ended and nothing is left. */
  async listen(options: CallOptions = {}): Promise<Uint8Array> {
    return await withDeadline(options, Number.POSITIVE_INFINITY, async signal => {
      for (;;) {
        const next = this.#inbox.shift()
        if (next != null) {
          this.#inboxBytes -= next.byteLength
          this.#wake()
          return next
        }
        if (this.#ended != null) throw this.#ended
        await raceSignal(this.#changed(), signal)
      }
    })
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      try {
        yield await this.listen()
      } catch (error) {
        if (error instanceof StreamClosedError && this.#inbox.length === 0) return
        throw error
      }
    }
  }

  /** Sends a file on this conversation; resolves once the peer stored it with a matching SHA-256. */
  async transmitFile(
    filePath: string,
    options: Omit<TransmitFileOptions, 'ipfs' | 'encrypt' | 'retries'> = {}
  ): Promise<void> {
    const previous = this.#sendingFile
    let done: () => void = () => {}
    this.#sendingFile = new Promise(resolve => {
      done = resolve
    })
    await previous
    try {
      await this.#sendFile(filePath, options)
    } finally {
      done()
    }
  }

  /** The next file the peer sends on this conversation. */
  async listenForFile(options: CallOptions = {}): Promise<ReceivedFile> {
    return await withDeadline(options, Number.POSITIVE_INFINITY, async signal => {
      for (;;) {
        const next = this.#files.shift()
        if (next != null) {
          this.#unreadFileBytes -= next.size
          return next
        }
        if (this.#ended != null) throw this.#ended
        await raceSignal(this.#changed(), signal)
      }
    })
  }

  /** Ends the conversation and tells the peer. Idempotent. */
  async close(reason?: string): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#ended == null) {
        // Bounded: a peer that stopped reading must not keep close() waiting for a drain.
        await withDeadline({ timeout: CLOSE_GRACE_MS }, CLOSE_GRACE_MS, async signal => {
          await this.#stream.writeJson(FrameType.close, { reason } satisfies CloseBody, signal)
        }).catch(() => {
          // Best effort: the peer learns of the close from the stream ending instead.
        })
        this.#end(new StreamClosedError('The conversation was closed', this.peerId), { by: 'us', reason })
        await this.#stream.closeAfterPeer(CLOSE_GRACE_MS)
      }
      this.#stream.close()
    })()
    await this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #sendFile(
    filePath: string,
    options: Omit<TransmitFileOptions, 'ipfs' | 'encrypt' | 'retries'>
  ): Promise<void> {
    this.#checkOpen()
    const stat = await fs.stat(filePath).catch((error: unknown) => {
      throw new InvalidArgumentError('filePath', `cannot read ${filePath}: ${(error as Error).message}`)
    })
    if (!stat.isFile()) throw new InvalidArgumentError('filePath', `${filePath} is not a file`)
    const metadata = checkedMetadata(options.metadata)
    const deadline = callDeadline(options, Number.POSITIVE_INFINITY)
    const signal = deadline.signal
    const id = this.#nextFileId++
    const done = new Promise<FileDoneBody>((resolve, reject) => {
      this.#fileDone = { id, resolve, reject }
    })
    // Awaited below; this only keeps an end of the conversation mid-file from going unhandled.
    done.catch(() => {})
    try {
      const header: FileOpenHeader = {
        id,
        name: path.basename(filePath),
        size: stat.size,
        metadata: metadata == null ? undefined : Buffer.from(metadata).toString('base64')
      }
      await this.#stream.writeJson(FrameType.fileOpen, header, signal)
      const hash = createHash('sha256')
      const started = Date.now()
      let sent = 0
      for await (const chunk of createReadStream(filePath, { highWaterMark: CHUNK_SIZE, signal })) {
        const piece = chunk as Buffer
        hash.update(piece)
        const payload = this.#options.encrypt == null ? piece : await this.#options.encrypt(piece)
        await this.#stream.write(FrameType.fileChunk, withId(id, payload), signal)
        sent += piece.byteLength
        options.onProgress?.({
          bytes: sent,
          total: stat.size,
          rate: sent / Math.max((Date.now() - started) / 1000, 0.001)
        })
      }
      await this.#stream.write(FrameType.fileEnd, withId(id, hash.digest()), signal)
      const body = await raceSignal(done, signal)
      if (!body.ok) {
        throw new TransmissionError(
          body.code ?? 'internal',
          `The peer did not store ${header.name}: ${body.message ?? ''}`,
          {
            remote: true,
            peerId: this.peerId
          }
        )
      }
      if (stat.size === 0) options.onProgress?.({ bytes: 0, total: 0, rate: 0 })
    } catch (error) {
      throw explain(error, signal, this.peerId, this.#stream)
    } finally {
      this.#fileDone = undefined
      deadline.clear()
    }
  }

  async #readLoop(): Promise<void> {
    let incoming:
      | {
          header: FileOpenHeader
          /** Undefined for a refused file, whose bytes are read and dropped. */
          part: string | undefined
          file: fs.FileHandle | undefined
          hash: ReturnType<typeof createHash>
          written: number
          refused?: { code: ErrorCode; message: string }
        }
      | undefined
    try {
      for (;;) {
        // Stop reading while the unread messages hold this much: the peer's `say` then waits.
        while (
          this.#inboxBytes >= (this.#options.maxInboxBytes ?? DEFAULT_MAX_INBOX_BYTES) &&
          this.#ended == null
        ) {
          await this.#changed()
        }
        if (this.#ended != null) return
        const frame = await this.#stream.read()
        switch (frame.type) {
          case FrameType.message: {
            const { id, rest } = readId(frame.payload)
            const message = this.#options.decrypt == null ? rest.slice() : await this.#options.decrypt(rest)
            const maxMessageSize = this.#options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
            if (message.byteLength > maxMessageSize) {
              throw new TransmissionError(
                'too-large',
                `a message of ${message.byteLength} bytes; this side takes at most ${maxMessageSize}`,
                { peerId: this.peerId }
              )
            }
            this.#inbox.push(message)
            this.#inboxBytes += message.byteLength
            this.#wake()
            await this.#stream.write(FrameType.messageAck, withId(id, new Uint8Array(0)))
            break
          }
          case FrameType.messageAck: {
            const { id } = readId(frame.payload)
            this.#pendingAcks.get(id)?.resolve()
            this.#pendingAcks.delete(id)
            break
          }
          case FrameType.close: {
            let reason: string | undefined
            try {
              reason = (JSON.parse(new TextDecoder().decode(frame.payload)) as CloseBody).reason
            } catch {
              reason = undefined
            }
            this.#end(new StreamClosedError('The peer closed the conversation', this.peerId), {
              by: 'peer',
              reason
            })
            this.#stream.close()
            return
          }
          case FrameType.fileOpen: {
            if (incoming != null)
              throw new TransmissionError('protocol', 'a file began before the last one ended', {
                peerId: this.peerId
              })
            const header = parseJson<FileOpenHeader>(frame.payload, this.peerId)
            if (
              !Number.isSafeInteger(header.id) ||
              !Number.isSafeInteger(header.size) ||
              header.size < 0 ||
              typeof header.name !== 'string'
            ) {
              throw new TransmissionError('protocol', 'a bad file header', { peerId: this.peerId })
            }
            const maxFileSize = this.#options.maxFileSize ?? Number.MAX_SAFE_INTEGER
            if (header.size > maxFileSize) {
              // The chunks follow without waiting for an answer, so the conversation ends here.
              throw new TransmissionError(
                'too-large',
                `a file of ${header.size} bytes; this side takes at most ${maxFileSize}`,
                {
                  peerId: this.peerId
                }
              )
            }
            const maxUnreadFiles = this.#options.maxUnreadFiles ?? DEFAULT_MAX_UNREAD_FILES
            const maxUnreadFileBytes = this.#options.maxUnreadFileBytes ?? DEFAULT_MAX_UNREAD_FILE_BYTES
            if (
              this.#files.length >= maxUnreadFiles ||
              this.#unreadFileBytes + header.size > maxUnreadFileBytes
            ) {
              // The chunks follow without waiting for an answer: they are read and dropped, and
              // the sender hears `busy` at the end. The conversation goes on.
              incoming = {
                header,
                part: undefined,
                file: undefined,
                hash: createHash('sha256'),
                written: 0,
                refused: {
                  code: 'busy',
                  message: `${this.#files.length} files (${this.#unreadFileBytes} bytes) wait to be read here; at most ${maxUnreadFiles} files and ${maxUnreadFileBytes} bytes. Try again later`
                }
              }
              break
            }
            const directory = await this.#fileDirectory()
            // A random name: nobody can plant a file or symlink under it in advance.
            const part = path.join(directory, `.tk-${randomBytes(12).toString('hex')}.part`)
            incoming = {
              header,
              part,
              file: await fs.open(part, PART_FLAGS, 0o600),
              hash: createHash('sha256'),
              written: 0
            }
            break
          }
          case FrameType.fileChunk: {
            const { id, rest } = readId(frame.payload)
            if (incoming == null || id !== incoming.header.id)
              throw new TransmissionError('protocol', 'a chunk of no open file', { peerId: this.peerId })
            const piece = this.#options.decrypt == null ? rest : await this.#options.decrypt(rest)
            if (incoming.written + piece.byteLength > incoming.header.size) {
              throw new TransmissionError('too-large', 'more file bytes than announced', {
                peerId: this.peerId
              })
            }
            if (incoming.file != null) {
              incoming.hash.update(piece)
              await incoming.file.write(piece, 0, piece.byteLength, incoming.written)
            }
            incoming.written += piece.byteLength
            break
          }
          case FrameType.fileEnd: {
            const { id, rest } = readId(frame.payload)
            if (incoming == null || id !== incoming.header.id)
              throw new TransmissionError('protocol', 'the end of no open file', { peerId: this.peerId })
            const current = incoming
            incoming = undefined
            if (current.file == null || current.part == null) {
              await this.#stream.writeJson(FrameType.fileDone, {
                id,
                ok: false,
                code: current.refused?.code ?? 'internal',
                message: current.refused?.message ?? 'not stored'
              } satisfies FileDoneBody)
              break
            }
            await current.file.sync()
            await current.file.close()
            const matches =
              current.written === current.header.size && Buffer.from(rest).equals(current.hash.digest())
            if (!matches) {
              await fs.rm(current.part, { force: true })
              await this.#stream.writeJson(FrameType.fileDone, {
                id,
                ok: false,
                code: 'digest-mismatch',
                message: 'size or SHA-256 differs'
              } satisfies FileDoneBody)
              break
            }
            const name = sanitizeFileName(current.header.name)
            const finalPath = await publishPart(current.part, await this.#fileDirectory(), name)
            this.#unreadFileBytes += current.header.size
            this.#files.push({
              peerId: this.peerId,
              path: finalPath,
              name: path.basename(finalPath),
              size: current.header.size,
              metadata:
                current.header.metadata == null
                  ? new Uint8Array(0)
                  : new Uint8Array(Buffer.from(current.header.metadata, 'base64'))
            })
            this.#wake()
            await this.#stream.writeJson(FrameType.fileDone, { id, ok: true } satisfies FileDoneBody)
            break
          }
          case FrameType.fileDone: {
            const body = parseJson<FileDoneBody>(frame.payload, this.peerId)
            if (this.#fileDone?.id === body.id) this.#fileDone.resolve(body)
            break
          }
          default:
            throw new TransmissionError('protocol', `unexpected frame ${frame.type} in a conversation`, {
              peerId: this.peerId
            })
        }
      }
    } catch (error) {
      if (incoming?.part != null) {
        await incoming.file?.close().catch(() => {})
        await fs.rm(incoming.part, { force: true })
      }
      const failure = error instanceof Error ? error : new Error(String(error))
      if (this.#ended == null) {
        if (failure instanceof TransmissionError && !failure.remote) {
          await this.#stream.fail({ code: failure.code, message: failure.message })
        }
        const ended =
          failure instanceof StreamClosedError
            ? new StreamClosedError('The conversation ended: the stream closed', this.peerId, {
                cause: failure
              })
            : failure
        this.#end(ended, { by: 'error', reason: failure.message })
      }
      this.#stream.close()
    }
  }

  #end(error: Error, how: { by: 'us' | 'peer' | 'error'; reason?: string }): void {
    if (this.#ended != null) return
    this.#ended = error
    for (const pending of this.#pendingAcks.values()) pending.reject(error)
    this.#pendingAcks.clear()
    this.#fileDone?.reject(error)
    this.#wake()
    this.#markClosed(how)
  }

  /** The caller's directory, or one of this conversation's own: private, so nobody can plant anything in it. */
  async #fileDirectory(): Promise<string> {
    this.#directory ??=
      this.#options.directory == null
        ? fs.mkdtemp(path.join(os.tmpdir(), 'tk-conversation-'))
        : Promise.resolve(this.#options.directory)
    return await this.#directory
  }

  #checkOpen(): void {
    if (this.#ended != null) throw this.#ended
  }

  async #changed(): Promise<void> {
    await new Promise<void>(resolve => this.#waiters.push(resolve))
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

/** A peer's JSON frame; anything unreadable is a `protocol` error the peer is told about. */
function parseJson<T>(payload: Uint8Array, peerId: string): T {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(payload))
    if (typeof value !== 'object' || value == null) throw new Error('not an object')
    return value as T
  } catch {
    throw new TransmissionError('protocol', 'an unreadable JSON frame', { peerId })
  }
}

/** Starts a conversation with the conversation listener `listenerName` on `peerId`; resolves once the peer joined. */
export async function startConversation(
  streams: StreamSource,
  conversationName: string,
  peerIdOrName: string,
  listenerName: string,
  options: StartConversationOptions = {}
): Promise<Conversation> {
  if (options.contacts == null) checkedPeerId(peerIdOrName)
  if (typeof conversationName !== 'string' || conversationName === '' || conversationName.length > 256) {
    throw new InvalidArgumentError('conversationName', 'expected a name of 1 to 256 characters')
  }
  const wire = options.wire
  if (wire != null && wire.startConversation == null)
    throw new InvalidArgumentError('wire', `${wire.name} does not start conversations`)
  // The timeout bounds the opening only: the conversation lasts until it is closed.
  return await withDeadline(options, DEFAULT_TIMEOUT, async signal => {
    const peerId = await resolvePeer(peerIdOrName, options, signal)
    if (wire?.startConversation != null)
      return await wire.startConversation(
        conversationName,
        peerId,
        protocolFor(listenerName),
        options,
        signal
      )
    const { stream } = await openStream(
      streams,
      peerId,
      listenerName,
      { kind: 'conversation', name: conversationName },
      options,
      signal
    )
    return new Conversation(conversationName, peerId, stream, options)
  })
}

/** A peer asks to talk; `join()` accepts, anything else (or `ignore()`) declines. */
export interface ConversationRequest {
  readonly peerId: string
  /** The name the starter gave. */
  readonly name: string
  join(options?: ConversationOptions): Promise<Conversation>
  ignore(): void
}

/**
 * Serves conversations on `/x/<listenerName>`: `handler` gets each request and may `join()` it.
 * A request the handler neither joins nor ignores within the idle timeout is declined (a handler
 * that returns without joining declines at once). `join()` always settles: with the conversation,
 * or rejected once the request was declined, the starter went away, or the listener closed.
 */
export async function listenForConversations(
  streams: StreamSource,
  listenerName: string,
  handler: ConversationHandler,
  options: ConversationListenOptions = {}
): Promise<Listener> {
  const decisions = new WeakMap<
    FrameStream,
    { joined: ConversationOptions | undefined; made: (conversation: Conversation) => void }
  >()
  return await startListener(
    streams,
    listenerName,
    {
      kind: 'conversation',
      foreign: options.wire?.conversationHook?.(options, handler),
      accept: async incoming => {
        const name = typeof incoming.header.name === 'string' ? incoming.header.name.slice(0, 256) : ''
        let decide: (joined: ConversationOptions | undefined) => void = () => {}
        const decision = new Promise<ConversationOptions | undefined>(resolve => {
          decide = resolve
        })
        let made: (conversation: Conversation) => void = () => {}
        let unmade: (error: Error) => void = () => {}
        const conversation = new Promise<Conversation>((resolve, reject) => {
          made = resolve
          unmade = reject
        })
        // Awaited by join(), if anyone calls it: a refused request must not go unhandled.
        conversation.catch(() => {})
        // Once the starter has gone, there is nothing to join, now or later (settling twice is a no-op).
        const gone = incoming.stream.ended.then(() => {
          const error = new StreamClosedError(
            'The peer that asked for this conversation went away before it was joined',
            incoming.peerId
          )
          unmade(error)
          return error
        })
        const request: ConversationRequest = {
          peerId: incoming.peerId,
          name,
          join: async (joinOptions = {}) => {
            decide({ decrypt: options.decrypt, ...joinOptions })
            return await conversation
          },
          ignore: () => decide(undefined)
        }
        void (async () => {
          try {
            await handler(request)
          } catch (error) {
            incoming.report(error as Error)
          }
          decide(undefined)
        })()
        const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT
        let joined: ConversationOptions | undefined
        try {
          joined = await withDeadline(
            // 0 or Infinity: the handler may take as long as it likes.
            { signal: incoming.signal, timeout: idleTimeout > 0 ? idleTimeout : Number.POSITIVE_INFINITY },
            Number.POSITIVE_INFINITY,
            async signal =>
              await raceSignal(
                Promise.race([
                  decision,
                  gone.then(error => {
                    throw error
                  })
                ]),
                signal
              )
          )
        } catch (error) {
          const failure =
            error instanceof Error && error.name === 'TimeoutError'
              ? new TransmissionError(
                  'declined',
                  `the conversation was not joined within the idle timeout of ${idleTimeout} ms`,
                  { peerId: incoming.peerId }
                )
              : (error as Error)
          unmade(failure)
          throw failure
        }
        if (joined == null) {
          const declined = new TransmissionError('declined', 'the peer did not join this conversation', {
            peerId: incoming.peerId
          })
          unmade(declined)
          throw declined
        }
        decisions.set(incoming.stream, { joined, made })
        return {
          maxFrame:
            Math.max(joined.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, CHUNK_SIZE) + ENCRYPTION_ALLOWANCE + 4
        }
      },
      serve: async incoming => {
        const decided = decisions.get(incoming.stream)
        if (decided?.joined == null) return 'close'
        const conversation = new Conversation(
          incoming.header.name ?? '',
          incoming.peerId,
          incoming.stream,
          decided.joined
        )
        decided.made(conversation)
        return 'keep'
      }
    },
    options
  )
}
