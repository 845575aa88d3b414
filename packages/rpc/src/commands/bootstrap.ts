import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkMultiaddr, checkPeerId } from '../validate.js'

export interface BootstrapListOptions extends CallOptions {
  /** Replace the `auto` placeholder with the peers AutoConf supplies. */
  expandAuto?: boolean
}

export interface BootstrapRmOptions extends CallOptions {
  /** Remove every bootstrap peer (Kubo deprecates this in favour of `rm.all()`). */
  all?: boolean
}

/** Kubo's placeholders for its default bootstrap peers (`default` is saved as `auto`). */
const PLACEHOLDERS = new Set(['auto', 'default'])

/** A bootstrap entry: `<multiaddr>/p2p/<peerId>`, or (for `add`) one of the placeholders. */
function checkBootstrapPeer(value: string, allowPlaceholder: boolean): string {
  if (allowPlaceholder && PLACEHOLDERS.has(value)) return value
  const checked = checkMultiaddr(value, 'peer')
  const match = /\/(?:p2p|ipfs)\/([^/]+)$/.exec(checked)
  if (match == null) throw new InvalidArgumentError('peer', `"${value}" must end in /p2p/<peerId>`)
  checkPeerId(match[1] ?? '', 'peer')
  return checked
}

function checkBootstrapPeers(peers: string | readonly string[], allowPlaceholder: boolean): string[] {
  const values = typeof peers === 'string' ? [peers] : [...peers]
  if (values.length === 0) throw new InvalidArgumentError('peer', 'give at least one peer address')
  return values.map(value => checkBootstrapPeer(value, allowPlaceholder))
}

/**
 * `bootstrap/*`: the trusted peers the node connects to at start (saved in the config's
 * `Bootstrap`). Only edit it if you understand the risk: these peers shape what the node learns.
 */
export function createBootstrapCommands(invoker: Invoker) {
  const peers = async (command: string, options: CallOptions, args?: readonly string[]): Promise<string[]> =>
    list((await invoker.json<{ Peers: string[] | null }>(command, options, { args })).Peers)

  /** The bootstrap peers, as `<multiaddr>/p2p/<peerId>` (or `auto`). */
  const listPeers = async (options: BootstrapListOptions = {}): Promise<string[]> =>
    await peers('bootstrap/list', options)

  const rm = Object.assign(
    /** Removes bootstrap peers (`<multiaddr>/p2p/<peerId>`, or `/p2p/<peerId>` for all of a peer's addresses), or all with `{ all: true }`; resolves with those removed. */
    async (
      peer: string | readonly string[] | BootstrapRmOptions,
      options: BootstrapRmOptions = {}
    ): Promise<string[]> => {
      if (typeof peer === 'object' && !Array.isArray(peer)) {
        const rmOptions = peer as BootstrapRmOptions
        if (rmOptions.all !== true)
          throw new InvalidArgumentError('peer', 'give peer addresses, or { all: true }')
        return await peers('bootstrap/rm', rmOptions)
      }
      return await peers(
        'bootstrap/rm',
        options,
        checkBootstrapPeers(peer as string | readonly string[], false)
      )
    },
    {
      /** Removes every bootstrap peer; resolves with those removed. */
      all: async (options: CallOptions = {}): Promise<string[]> => await peers('bootstrap/rm/all', options)
    }
  )

  // `bootstrap` itself runs `bootstrap list`, so the namespace is callable.
  return Object.assign(
    /** The bootstrap peers (same as `list`). */
    async (options: BootstrapListOptions = {}): Promise<string[]> => await peers('bootstrap', options),
    {
      list: listPeers,
      /** Adds bootstrap peers (`<multiaddr>/p2p/<peerId>`, or `auto` for Kubo's defaults); resolves with those not already there. */
      add: async (peer: string | readonly string[], options: CallOptions = {}): Promise<string[]> =>
        await peers('bootstrap/add', options, checkBootstrapPeers(peer, true)),
      rm
    }
  )
}
