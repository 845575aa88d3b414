/**
 * @packageDocumentation
 *
 * The Python IPFS-Toolkit 0.5.x's wire format as a plug-in of @tk/transmission: given as `wire`
 * to a listener, it also serves Python senders; given as `wire` to a sender, it speaks to a
 * Python listener. Its one-off tunnels are Kubo's, so it needs a Kubo client.
 *
 * @example
 *
 * ```ts
 * import { createTransmission } from '@tk/transmission'
 * import { ipfsToolkitPy } from '@tk/transmission/python'
 *
 * await using python = ipfsToolkitPy({ client: ipfs.client })
 * const transmission = createTransmission({ streams: ipfs.streams })
 * await transmission.listenForTransmissions('inbox', onData, { wire: python }) // tk and Python senders
 * await transmission.transmitData('hi', peerId, 'their-inbox', { wire: python }) // to a Python listener
 * ```
 */

import { createKuboClient, type KuboClient } from '@tk/rpc'
import { createKuboStreamSource } from '@tk/rpc/streams'
import { checkPositive, protocolFor, type Transform } from '../options.js'
import type { WirePlugin } from '../plugin.js'
import { pythonConversationHook, pythonDataHook, pythonFileHook } from './listener.js'
import type { PythonNode } from './node.js'
import { startConversationWithPython, transmitDataToPython, transmitFileToPython } from './sender.js'
import { PYTHON_PROTOCOL } from './wire.js'

/** Requests in the Python format served at once per listener; each holds a `p2p listen` in Kubo. */
export const DEFAULT_PYTHON_CONCURRENCY = 8
/** …and per peer: a Python peer sends one message at a time. */
export const DEFAULT_PYTHON_CONCURRENCY_PER_PEER = 2

export interface IpfsToolkitPyInit {
  /** The Kubo node; default the daemon at IPFS_API, else the repo's api file, else 127.0.0.1:5001. */
  client?: KuboClient
  /** Python-format requests a listener serves at once (each holds a `p2p listen` in Kubo); default 8. */
  concurrency?: number
  /** …of them from one peer; default 2 (a Python peer sends one message at a time). */
  concurrencyPerPeer?: number
  /**
   * Files from Python senders: ipfs_tk encrypts after its handshake both ways, so a file
   * listener's `ready` answer is encrypted with this (the listener's `decrypt` undoes theirs).
   */
  encrypt?: Transform
  /** Files to Python listeners: undoes the receiver's encryption of its `ready` answer. */
  decrypt?: Transform
}

/** The plug-in; `close()` ends the tunnels it keeps for its requests. */
export interface IpfsToolkitPy extends WirePlugin, AsyncDisposable {
  readonly name: typeof PYTHON_PROTOCOL
  close(): Promise<void>
}

/** The Python IPFS-Toolkit 0.5.x's format, for `wire` of listeners and senders. */
export function ipfsToolkitPy(init: IpfsToolkitPyInit = {}): IpfsToolkitPy {
  checkPositive('concurrency', init.concurrency)
  checkPositive('concurrencyPerPeer', init.concurrencyPerPeer)
  const client = init.client ?? createKuboClient()
  const streams = createKuboStreamSource(client)
  const node: PythonNode = { p2p: client.p2p, streams }
  const close = async (): Promise<void> => await streams.close()
  return {
    name: PYTHON_PROTOCOL,
    concurrency: init.concurrency ?? DEFAULT_PYTHON_CONCURRENCY,
    concurrencyPerPeer: init.concurrencyPerPeer ?? DEFAULT_PYTHON_CONCURRENCY_PER_PEER,
    dataHook: (options, handler) => pythonDataHook(node, options, handler),
    fileHook: (options, directory, handler) =>
      pythonFileHook(node, init.encrypt, options, directory, handler),
    conversationHook: (options, handler) => pythonConversationHook(node, options, handler),
    transmitData: async (data, peerId, protocol, options, signal) =>
      await transmitDataToPython(node, data, peerId, protocolFor(protocol), options, signal),
    transmitFile: async (filePath, peerId, protocol, metadata, options, signal) =>
      await transmitFileToPython(node, init.decrypt, filePath, peerId, protocol, metadata, options, signal),
    startConversation: async (conversationName, peerId, protocol, options, signal) =>
      await startConversationWithPython(node, conversationName, peerId, protocol, options, signal),
    close,
    [Symbol.asyncDispose]: close
  }
}
