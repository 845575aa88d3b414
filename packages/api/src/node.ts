import { setTimeout as sleep } from 'node:timers/promises'
import type { VersionInfo } from '@tk/rpc'
import type { ApiContext } from './context.js'
import { NoIpfsNodeError } from './errors.js'
import type { CallOptions } from './options.js'

export interface WaitOptions extends CallOptions {
  /** How often to ask (ms); default 250. */
  interval?: number
}

/** Node-level functions: who am I, where do I listen, is the daemon there. */
export function createNodeFunctions(context: ApiContext) {
  const { client } = context
  const isIpfsRunning = async (options: CallOptions = {}): Promise<boolean> =>
    await context.transport.reachesDaemon(options)

  return {
    /** This node's peer id. */
    myId: async (options: CallOptions = {}): Promise<string> => (await client.id(options)).id,

    /** The addresses this node is reachable at, each ending in `/p2p/<its peer id>`. */
    myMultiaddrs: async (options: CallOptions = {}): Promise<string[]> =>
      (await client.id(options)).addresses,

    /** Kubo's version, commit, repo version, system and Go version. */
    version: async (options: CallOptions = {}): Promise<VersionInfo> => await client.version(options),

    /** Whether a daemon answers; `false` (never an error) when it does not. */
    isIpfsRunning,

    /**
     * Resolves once a daemon answers; rejects with `NoIpfsNodeError` when none does within
     * `timeout` (default 30 s).
     */
    waitUntilIpfsIsRunning: async (options: WaitOptions = {}): Promise<void> => {
      const timeout = options.timeout ?? 30_000
      const deadline = Date.now() + timeout
      for (;;) {
        options.signal?.throwIfAborted()
        if (
          await isIpfsRunning({
            signal: options.signal,
            timeout: Math.max(1, Math.min(5_000, deadline - Date.now()))
          })
        )
          return
        if (Date.now() >= deadline) {
          throw new NoIpfsNodeError([`${context.transport.target}: no daemon answered within ${timeout} ms`])
        }
        await sleep(Math.min(options.interval ?? 250, Math.max(0, deadline - Date.now())), undefined, {
          signal: options.signal
        }).catch((error: unknown) => {
          // Node rejects with its own AbortError; the caller gets its signal's reason.
          options.signal?.throwIfAborted()
          throw error
        })
      }
    }
  }
}
