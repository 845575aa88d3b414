import { type CallOptions, createKuboClient, InvalidArgumentError, type Transport } from '@tk/rpc'
import { Invoker } from '@tk/rpc/transport'
import { type CliTransportInit, cliTransport } from './cli-transport.js'

export interface KeyExportOptions extends CallOptions {
  /** The encoding; default `libp2p-protobuf-cleartext` (what `key.import` reads by default). */
  format?: 'libp2p-protobuf-cleartext' | 'pem-pkcs8-cleartext'
}

export interface KeyRotateOptions extends CallOptions {
  /** Keystore name the current identity is kept under; Kubo asks for one. */
  oldkey: string
  /** The new key's type; default `ed25519`. */
  type?: 'ed25519' | 'rsa' | 'secp256k1'
  /** Key size in bits (RSA only). */
  size?: number
}

export interface KeyRotateResult {
  /** The node's new peer id. */
  peerId: string
}

/**
 * Commands Kubo runs only in the `ipfs` CLI (marked NoRemote: no HTTP route), over any transport
 * that runs the CLI. They work on the local repo (`IPFS_PATH`), never on a remote `--api`.
 */
export function createCliOnlyCommands(transport: Transport) {
  const invoker = new Invoker(transport)
  return {
    key: {
      /** A private key from the keystore, as bytes (`ipfs key export`); works with the daemon running. */
      export: async (name: string, options: KeyExportOptions = {}): Promise<Uint8Array> => {
        if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('name', 'name a key')
        const chunks: Uint8Array[] = []
        for await (const chunk of invoker.bytes('key/export', options, { args: [name] })) chunks.push(chunk)
        return new Uint8Array(Buffer.concat(chunks))
      },

      /**
       * Gives the node a new identity and keeps the old one in the keystore under `oldkey`
       * (`ipfs key rotate`). The daemon must not be running.
       */
      rotate: async (options: KeyRotateOptions): Promise<KeyRotateResult> => {
        if (typeof options?.oldkey !== 'string' || options.oldkey === '') {
          throw new InvalidArgumentError('oldkey', 'name the keystore entry the current identity goes to')
        }
        // `key rotate` prints text whatever `--enc` says: "peer identity: <id>".
        const text = await invoker.text('key/rotate', options)
        const peerId = /peer identity: (\S+)/.exec(text)?.[1]
        if (peerId == null) throw new Error(`Unexpected output from ipfs key rotate: ${text.trim()}`)
        return { peerId }
      }
    }
  }
}

/**
 * A @tk/rpc client that runs every command through the `ipfs` CLI, with the CLI-only commands
 * added where they belong (`client.key.export`, `client.key.rotate`).
 */
export function createKuboCliClient(init: CliTransportInit = {}) {
  const transport = cliTransport(init)
  const client = createKuboClient({ transport })
  const cliOnly = createCliOnlyCommands(transport)
  return { ...client, key: { ...client.key, ...cliOnly.key } }
}

export type KuboCliClient = ReturnType<typeof createKuboCliClient>
