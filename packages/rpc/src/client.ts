import { type AddInput, entriesFromInput } from './add-source.js'
import { createBitswapCommands } from './commands/bitswap.js'
import { createBlockCommands } from './commands/block.js'
import { createBootstrapCommands } from './commands/bootstrap.js'
import { createCidCommands } from './commands/cid.js'
import { createConfigCommands } from './commands/config.js'
import { createDagCommands } from './commands/dag.js'
import { createDhtCommands } from './commands/dht.js'
import { createDiagCommands } from './commands/diag.js'
import { createFilesCommands } from './commands/files.js'
import { createFilestoreCommands } from './commands/filestore.js'
import { createKeyCommands } from './commands/key.js'
import { createLogCommands } from './commands/log.js'
import { createMultibaseCommands } from './commands/multibase.js'
import { createNameCommands } from './commands/name.js'
import { createObjectCommands } from './commands/object.js'
import { createP2pCommands } from './commands/p2p.js'
import { createPinCommands } from './commands/pin.js'
import { createProvideCommands } from './commands/provide.js'
import { createPubsubCommands } from './commands/pubsub.js'
import { createRepoCommands } from './commands/repo.js'
import { createRootCommands } from './commands/root.js'
import { createRoutingCommands } from './commands/routing.js'
import { createStatsCommands } from './commands/stats.js'
import { createSwarmCommands } from './commands/swarm.js'
import { type HttpTransportInit, httpTransport } from './http-transport.js'
import { Invoker } from './invoker.js'
import type { CallOptions } from './options.js'
import type { Argument, OptionValue, RequestBody, RpcResponse, Transport } from './transport.js'

export interface KuboClientInit extends HttpTransportInit {
  /** Another way to reach Kubo (e.g. @tk/cli-backend's `cliTransport()`); HTTP when omitted. */
  transport?: Transport
}

export interface RawRequestOptions extends CallOptions {
  /** Positional arguments, in order; a `Uint8Array` is a binary value (a pubsub topic), written as each transport writes those. */
  args?: readonly Argument[]
  /** Kubo's options by their Kubo names, e.g. `{ 'cid-version': 1 }`. */
  options?: Record<string, OptionValue>
  /** A file tree or one blob to send as the body. */
  body?: RequestBody | AddInput
  /** No default timeout and no idle timeout (subscriptions). */
  longLived?: boolean
}

function isBodyEntries(body: unknown): body is RequestBody {
  if (body == null || typeof body !== 'object' || body instanceof Uint8Array) return false
  if (Array.isArray(body))
    return body.every(entry => typeof entry?.kind === 'string' && typeof entry?.path === 'string')
  return false
}

/**
 * Creates a Kubo RPC client. Commands are grouped as in the `ipfs` CLI: `client.id()`,
 * `client.swarm.peers()`, `client.p2p.listen(…)`; anything else goes through `client.request(…)`.
 */
export function createKuboClient(init: KuboClientInit | string = {}) {
  const options = typeof init === 'string' ? { apiUrl: init } : init
  const transport = options.transport ?? httpTransport(options)
  const invoker = new Invoker(transport)
  const close = async (): Promise<void> => {
    await transport.close()
  }

  return {
    ...createRootCommands(invoker),
    bitswap: createBitswapCommands(invoker),
    dht: createDhtCommands(invoker),
    files: createFilesCommands(invoker),
    key: createKeyCommands(invoker),
    name: createNameCommands(invoker),
    pin: createPinCommands(invoker),
    provide: createProvideCommands(invoker),
    repo: createRepoCommands(invoker),
    routing: createRoutingCommands(invoker),
    stats: createStatsCommands(invoker),
    bootstrap: createBootstrapCommands(invoker),
    config: createConfigCommands(invoker),
    diag: createDiagCommands(invoker),
    log: createLogCommands(invoker),
    p2p: createP2pCommands(invoker),
    swarm: createSwarmCommands(invoker),
    block: createBlockCommands(invoker),
    cid: createCidCommands(invoker),
    dag: createDagCommands(invoker),
    filestore: createFilestoreCommands(invoker),
    multibase: createMultibaseCommands(invoker),
    object: createObjectCommands(invoker),
    pubsub: createPubsubCommands(invoker),

    /**
     * Calls any command by its path (`'swarm/peers'`, `'pin/remote/ls'`), for commands this client
     * does not cover yet. Read the response once: `.json<T>()`, `.ndjson<T>()`, `.bytes()` or `.text()`.
     */
    request: async (command: string, request: RawRequestOptions = {}): Promise<RpcResponse> => {
      const body =
        request.body == null
          ? undefined
          : isBodyEntries(request.body)
            ? request.body
            : entriesFromInput(request.body as AddInput)
      return await transport.request({
        command,
        args: request.args,
        options: request.options,
        body,
        signal: request.signal,
        timeout: request.timeout,
        longLived: request.longLived
      })
    },

    /** Where requests go (an API URL, or the CLI); read when asked, for transports that decide late. */
    get target(): string {
      return transport.target
    },
    /** The transport underneath, shared by every command. */
    transport,
    /** Closes pooled connections. */
    close,
    [Symbol.asyncDispose]: close
  }
}

export type KuboClient = ReturnType<typeof createKuboClient>
