import type {
  Conversation,
  ConversationHandler,
  ConversationOptions,
  ConversationRequest
} from '../conversation.js'
import { TransmissionError } from '../errors.js'
import type { FrameStream } from '../frame-stream.js'
import type {
  DataHandler,
  FileHandler,
  FileListenOptions,
  ForeignHook,
  ForeignIncoming,
  ListenOptions
} from '../listener.js'
import {
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_TIMEOUT,
  ENCRYPTION_ALLOWANCE,
  type Transform
} from '../options.js'
import { b255DigitsFor, decodeB255 } from './b255.js'
import { joinPythonConversation } from './conversation.js'
import { answerPythonRequest } from './exchange.js'
import { receivePythonFile } from './files.js'
import type { PythonNode } from './node.js'
import { CONVERSATION_REQUEST, MAX_REQUEST_BYTES, parseHandshake } from './wire.js'

/** A conversation request (a prelude and a name, maybe a salutation) is never longer than this. */
const MAX_CONVERSATION_REQUEST_BYTES = 64 * 1024

/**
 * Answers a Python request that opens a conversation (file transfers are conversations too) and
 * returns its handshake; `what` names the expected request in the error otherwise.
 */
async function receiveHandshake(
  client: PythonNode,
  options: ListenOptions,
  { stream, peerId, signal }: Pick<ForeignIncoming, 'stream' | 'peerId' | 'signal'>,
  what: string
): Promise<NonNullable<ReturnType<typeof parseHandshake>>> {
  const request = await answerPythonRequest(stream, peerId, {
    client,
    maxSize: MAX_CONVERSATION_REQUEST_BYTES,
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    signal,
    allow: options.allow
  })
  const handshake = parseHandshake(request, CONVERSATION_REQUEST)
  if (handshake == null)
    throw new TransmissionError('protocol', `a Python request that is not ${what}`, { peerId })
  return handshake
}

/**
 * What the three hooks share: `receive` answers the Python request (its failures are reported,
 * unless the listener is closing), then `deliver` hands the result to the user's handler, whose
 * errors are reported too. `detached` does not wait for the handler.
 */
function foreignHook<T>(
  receive: (incoming: ForeignIncoming) => Promise<T>,
  deliver: (value: T) => Promise<void>,
  { detached = false }: { detached?: boolean } = {}
): ForeignHook {
  return async incoming => {
    const report = (error: unknown): void =>
      incoming.report(error instanceof Error ? error : new Error(String(error)))
    let value: T
    try {
      // The whole request within the opening deadline, whatever the pace of its bytes; only
      // then the exchange, whose waits the idle timeout bounds.
      await bufferRequest(incoming.stream, MAX_REQUEST_BYTES, incoming.opening)
      incoming.opened()
      value = await receive(incoming)
    } catch (error) {
      if (!incoming.signal.aborted) report(error)
      return 'close'
    }
    const delivered = deliver(value).catch(report)
    if (!detached) await delivered
    return 'close'
  }
}

/**
 * Waits until a whole request frame (`b255(length) 0x00 payload`) is buffered, without reading it;
 * a prefix that cannot be a request's returns at once, for the reader to refuse.
 */
async function bufferRequest(stream: FrameStream, maxLength: number, signal: AbortSignal): Promise<void> {
  const maxDigits = b255DigitsFor(maxLength)
  for (let have = 1; have <= maxDigits + 1; have++) {
    const bytes = await stream.peekBytes(have, signal)
    if (bytes[have - 1] !== 0) continue
    let length: number
    try {
      length = decodeB255(bytes.subarray(0, have - 1))
    } catch {
      return
    }
    if (length <= maxLength) await stream.peekBytes(have + length, signal)
    return
  }
}

/**
 * Serves a Python `transmit_data` on a data listener: the same limits (`maxMessageSize`, `allow`),
 * `decrypt` applied to the whole message, and the handler called after `Finished!` with the id
 * Kubo authenticated (a request claiming another id is refused).
 */
export function pythonDataHook(
  client: PythonNode,
  options: ListenOptions,
  handler: DataHandler
): ForeignHook {
  return foreignHook(
    async ({ stream, peerId, signal }) => {
      const data = await answerPythonRequest(stream, peerId, {
        client,
        maxSize:
          (options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE) +
          (options.decrypt == null ? 0 : ENCRYPTION_ALLOWANCE),
        idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
        signal,
        allow: options.allow,
        transform: options.decrypt
      })
      if (data.byteLength > (options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE)) {
        throw new TransmissionError('too-large', 'the decrypted message is beyond maxMessageSize', { peerId })
      }
      return { data, peerId }
    },
    async ({ data, peerId }) => await handler(data, peerId)
  )
}

/**
 * Serves a Python `transmit_file` on a file listener: the file arrives through a conversation of
 * its own and is stored as ours are (sanitized name, `.part` first, never overwriting), within
 * `maxFileSize`; the listener's `encrypt`/`decrypt` apply after the handshake, as in ipfs_tk.
 */
export function pythonFileHook(
  client: PythonNode,
  encrypt: Transform | undefined,
  options: FileListenOptions,
  directory: string,
  handler: FileHandler
): ForeignHook {
  return foreignHook(
    async ({ stream, peerId, signal }) => {
      const handshake = await receiveHandshake(client, options, { stream, peerId, signal }, 'a file transfer')
      return await receivePythonFile({
        client,
        peerId,
        conversationName: handshake.name,
        directory,
        maxFileSize: options.maxFileSize ?? Number.MAX_SAFE_INTEGER,
        maxBlockSize: (options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE) + ENCRYPTION_ALLOWANCE,
        encrypt,
        decrypt: options.decrypt,
        idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
        signal,
        onProgress: options.onProgress
      })
    },
    async file => await handler(file)
  )
}

/**
 * Serves a Python `start_conversation` on a conversation listener: the handler gets a
 * `ConversationRequest` like any other, and `join()` answers the Python way. Ignoring needs no
 * answer: the Python starter gives up after its own timeout (30 s).
 */
export function pythonConversationHook(
  client: PythonNode,
  options: ListenOptions,
  handler: ConversationHandler
): ForeignHook {
  return foreignHook(
    async ({ stream, peerId, signal }) => {
      const handshake = await receiveHandshake(
        client,
        options,
        { stream, peerId, signal },
        'a conversation request'
      )
      let joined: Promise<Conversation> | undefined
      const request: ConversationRequest = {
        peerId,
        name: handshake.name,
        join: async (joinOptions: ConversationOptions = {}) => {
          joined ??= joinPythonConversation(
            client,
            handshake.name,
            peerId,
            {
              decrypt: options.decrypt,
              maxMessageSize: options.maxMessageSize,
              ...joinOptions,
              idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT
            },
            AbortSignal.any([signal, AbortSignal.timeout(DEFAULT_TIMEOUT)])
          )
          return await joined
        },
        ignore: () => {}
      }
      return request
    },
    async request => await handler(request),
    // The handler may talk for as long as it likes: the request's stream is done with already.
    { detached: true }
  )
}
