import { InvalidArgumentError } from '@tk/rpc'
import type { Conversation, StartConversationOptions } from '../conversation.js'
import { DEFAULT_IDLE_TIMEOUT, type Transform } from '../options.js'
import type { TransmitFileOptions, TransmitOptions } from '../sender.js'
import { startPythonConversation } from './conversation.js'
import { sendPythonTransmission } from './exchange.js'
import { sendPythonFile } from './files.js'
import type { PythonNode } from './node.js'

/**
 * `transmitData` to a Python `listen_for_transmissions`. `encrypt` (if any) is applied to the whole
 * message. Resolves on the receiver's `Finished!`, which says the bytes arrived, no more: the
 * Python format carries no digest.
 */
export async function transmitDataToPython(
  client: PythonNode,
  data: Uint8Array,
  peerId: string,
  protocol: string,
  options: TransmitOptions,
  signal: AbortSignal
): Promise<void> {
  if (data.byteLength === 0) {
    // Its receiver reads a zero length as "no length yet" and waits until it times out.
    throw new InvalidArgumentError('data', 'the Python IPFS-Toolkit cannot receive empty data')
  }
  const payload = options.encrypt == null ? data : await options.encrypt(data)
  await sendPythonTransmission(client, peerId, protocol, payload, {
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
  client: PythonNode,
  decrypt: Transform | undefined,
  filePath: string,
  peerId: string,
  protocol: string,
  metadata: Uint8Array | undefined,
  options: TransmitFileOptions,
  signal: AbortSignal
): Promise<void> {
  await sendPythonFile({
    client,
    peerId,
    protocol,
    filePath,
    metadata,
    encrypt: options.encrypt,
    decrypt,
    idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
    signal,
    onProgress: options.onProgress
  })
}

/** `startConversation` with a Python `listen_for_conversations`. */
export async function startConversationWithPython(
  client: PythonNode,
  conversationName: string,
  peerId: string,
  protocol: string,
  options: StartConversationOptions,
  signal: AbortSignal
): Promise<Conversation> {
  return await startPythonConversation(
    client,
    conversationName,
    peerId,
    protocol,
    { ...options, idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT },
    signal
  )
}
