import { InvalidArgumentError } from '@tk/rpc'
import type { Conversation, StartConversationOptions } from '../conversation.js'
import { clientOf, DEFAULT_IDLE_TIMEOUT, protocolFor } from '../options.js'
import type { TransmitFileOptions, TransmitOptions } from '../sender.js'
import { startPythonConversation } from './conversation.js'
import { sendPythonTransmission } from './exchange.js'
import { sendPythonFile } from './files.js'
import { PYTHON_PROTOCOL } from './wire.js'

/** Throws unless `protocol` is one a sender speaks; true for the Python IPFS-Toolkit's. */
export function speaksPython(protocol: string | undefined): boolean {
  if (protocol === undefined || protocol === 'tk') return false
  if (protocol === PYTHON_PROTOCOL) return true
  throw new InvalidArgumentError(
    'protocol',
    `expected "tk" or "${PYTHON_PROTOCOL}", got ${JSON.stringify(protocol)}`
  )
}

/**
 * `transmitData` to a Python `listen_for_transmissions`. `encrypt` (if any) is applied to the whole
 * message. Resolves on the receiver's `Finished!`, which says the bytes arrived, no more: the
 * Python format carries no digest.
 */
export async function transmitDataToPython(
  data: Uint8Array,
  peerId: string,
  listenerName: string,
  options: TransmitOptions,
  signal: AbortSignal
): Promise<void> {
  if (data.byteLength === 0) {
    // Its receiver reads a zero length as "no length yet" and waits until it times out.
    throw new InvalidArgumentError('data', 'the Python IPFS-Toolkit cannot receive empty data')
  }
  const payload = options.encrypt == null ? data : await options.encrypt(data)
  await sendPythonTransmission(clientOf(options), peerId, protocolFor(listenerName), payload, {
    signal,
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT
  })
}

/**
 * `transmitFile` to a Python `listen_for_file_transmissions`, as its `transmit_file` does it;
 * `encrypt` applies after the handshake (header and blocks), and then the receiver's `ready` is
 * undone with `decrypt`. No resume: a broken transfer starts again from the beginning.
 */
export async function transmitFileToPython(
  filePath: string,
  peerId: string,
  listenerName: string,
  metadata: Uint8Array | undefined,
  options: TransmitFileOptions,
  signal: AbortSignal
): Promise<void> {
  await sendPythonFile({
    client: clientOf(options),
    peerId,
    protocol: protocolFor(listenerName),
    filePath,
    metadata,
    encrypt: options.encrypt,
    decrypt: options.decrypt,
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    signal,
    onProgress: options.onProgress
  })
}

/** `startConversation` with a Python `listen_for_conversations`. */
export async function startConversationWithPython(
  conversationName: string,
  peerId: string,
  listenerName: string,
  options: StartConversationOptions,
  signal: AbortSignal
): Promise<Conversation> {
  return await startPythonConversation(
    clientOf(options),
    conversationName,
    peerId,
    protocolFor(listenerName),
    { ...options, idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT },
    signal
  )
}
