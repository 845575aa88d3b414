import net from 'node:net'
import type {
  CloseListenerOptions,
  CloseSenderOptions,
  OpenListenerOptions,
  OpenSenderOptions,
  TunnelList,
  TunnelListener,
  TunnelSender
} from '@tk/interface'
import { DaemonUnreachableError, InvalidArgumentError, type P2pListener } from '@tk/rpc'
import { checkPeerId, checkProtocol } from '@tk/rpc/validate'
import type { ApiContext } from './context.js'
import { StreamMountingDisabledError } from './errors.js'
import type { CallOptions } from './options.js'

// The shapes every mode's tunnels share, declared once in @tk/interface.
export type {
  CloseListenerOptions,
  CloseSenderOptions,
  OpenListenerOptions,
  OpenSenderOptions,
  TunnelListener,
  TunnelSender
}

/** What `listTunnels` resolves with: this node's listeners and senders (@tk/interface's `TunnelList`). */
export type Tunnels = TunnelList

export interface CheckStreamMountingOptions extends CallOptions {
  /** Turn it on in the node's config (`Experimental.Libp2pStreamMounting`) when it is off. */
  enable?: boolean
}

export interface StreamMountingStatus {
  /** Whether the node has stream mounting on: the running daemon's state, or the repo's config when no daemon runs. */
  enabled: boolean
  /** Whether this call turned it on in the config. */
  changed: boolean
  /** When it is off: what to do to turn it on. */
  howToEnable?: string
}

const CONFIG_KEY = 'Experimental.Libp2pStreamMounting'
const ENABLE_COMMAND = `ipfs config --json ${CONFIG_KEY} true`
const DISABLED_MESSAGE = /stream mounting not enabled/i
const PORT = /\/(?:tcp|udp)\/(\d+)/
const PEER_ID = /\/(?:p2p|ipfs)\/([^/]+)$/

/**
 * Tunnels (Kubo's Libp2pStreamMounting, `ipfs p2p`): TCP connections carried over libp2p streams
 * between peers. Tunnels live in the daemon until closed, not in this process.
 */
export function createTunnelFunctions(context: ApiContext) {
  const { client } = context

  const list = async (options: CallOptions): Promise<P2pListener[]> =>
    await guard(() => client.p2p.ls(callOptions(options)))

  const listTunnels = async (options: CallOptions = {}): Promise<Tunnels> => {
    const tunnels: Tunnels = { listeners: [], senders: [] }
    for (const entry of await list(options)) {
      if (isListener(entry)) tunnels.listeners.push(toListener(entry))
      else tunnels.senders.push(toSender(entry))
    }
    // Kubo lists from a Go map, in a different order each time.
    tunnels.listeners.sort(byAddresses)
    tunnels.senders.sort(byAddresses)
    return tunnels
  }

  /** Closes exactly the entries given, by all three addresses, so no other tunnel can match. */
  const closeExactly = async (entries: readonly P2pListener[], options: CallOptions): Promise<number> => {
    let closed = 0
    for (const entry of entries) {
      closed += await guard(() =>
        client.p2p.close({
          protocol: entry.protocol,
          listenAddress: entry.listenAddress,
          targetAddress: entry.targetAddress,
          ...callOptions(options)
        })
      )
    }
    return closed
  }

  const streamMountingEnabled = async (options: CallOptions): Promise<boolean> => {
    try {
      await client.p2p.ls(callOptions(options))
      return true
    } catch (error) {
      if (isDisabledError(error)) return false
      if (!(error instanceof DaemonUnreachableError)) throw error
      // Without a daemon, the repo's config is what the next start will use, where the transport can
      // read it without one (the CLI on a local repo); where it cannot (HTTP), there is no daemon to ask.
      try {
        return (await client.config(CONFIG_KEY, callOptions(options))) === true
      } catch {
        throw error
      }
    }
  }

  return {
    /**
     * Lets other peers reach a local TCP service: connections to `/x/<name>` on this node are
     * forwarded to `host:port`. Resolves with the listener as Kubo lists it.
     */
    openListener: async (
      name: string,
      port: number,
      options: OpenListenerOptions = {}
    ): Promise<TunnelListener> => {
      const protocol = protocolName(name)
      checkPort(port, false)
      const targetAddress = `${hostAddress(options.host)}/tcp/${port}`
      await guard(() =>
        client.p2p.listen(protocol, targetAddress, {
          reportPeerId: options.reportPeerId,
          ...callOptions(options)
        })
      )
      const listener = (await listTunnels(options)).listeners.find(entry => entry.protocol === protocol)
      if (listener == null)
        throw new Error(`Kubo accepted p2p listen ${protocol} but does not list it (closed at once?)`)
      return listener
    },

    /**
     * Opens a local port whose connections are forwarded to the listener `/x/<name>` on `peerId`.
     * With `port` 0 the OS picks one; the result holds the real port and address.
     */
    openSender: async (
      name: string,
      port: number,
      peerId: string,
      options: OpenSenderOptions = {}
    ): Promise<TunnelSender> => {
      const protocol = protocolName(name)
      checkPort(port, true)
      checkPeerId(peerId, 'peerId')
      const listenAddress = `${hostAddress(options.host)}/tcp/${port}`
      // @tk/rpc picks the port for port 0 itself and describes exactly the tunnel it opened, so
      // senders opened at the same moment (here or by another program) never swap ports.
      const opened = await guard(() =>
        client.p2p.forward(protocol, listenAddress, `/p2p/${peerId}`, callOptions(options))
      )
      return toSender(opened)
    },

    /** Stops serving `/x/<name>` (only if it forwards to `port`, when given); resolves with how many were closed (0 or 1). */
    closeListener: async (name: string, options: CloseListenerOptions = {}): Promise<number> => {
      const protocol = protocolName(name)
      if (options.port != null) checkPort(options.port, false)
      const matching = (await list(options)).filter(
        entry =>
          isListener(entry) &&
          entry.protocol === protocol &&
          (options.port == null || portOf(entry.targetAddress) === options.port)
      )
      return await closeExactly(matching, options)
    },

    /** Closes the senders of `/x/<name>` (only the one on `port`, and only to `peerId`, when given); resolves with how many were closed. */
    closeSender: async (name: string, options: CloseSenderOptions = {}): Promise<number> => {
      const protocol = protocolName(name)
      if (options.port != null) checkPort(options.port, false)
      if (options.peerId != null) checkPeerId(options.peerId, 'peerId')
      const matching = (await list(options)).filter(entry => {
        if (isListener(entry) || entry.protocol !== protocol) return false
        const sender = toSender(entry)
        return (
          (options.port == null || sender.port === options.port) &&
          (options.peerId == null || sender.peerId === options.peerId)
        )
      })
      return await closeExactly(matching, options)
    },

    /** The tunnels on this node: listeners (other peers reach a local port) and senders (a local port reaches a peer). */
    listTunnels,

    /**
     * Whether Kubo's stream mounting (needed by every tunnel function) is on; with `enable: true`
     * it is turned on in the config when off. Kubo 0.43 reads the setting per call, so a running
     * daemon needs no restart.
     */
    checkStreamMounting: async (options: CheckStreamMountingOptions = {}): Promise<StreamMountingStatus> => {
      let enabled = await streamMountingEnabled(options)
      let changed = false
      if (!enabled && options.enable === true) {
        await client.config(CONFIG_KEY, true, callOptions(options))
        changed = true
        enabled = await streamMountingEnabled(options)
      }
      if (enabled) return { enabled, changed }
      return {
        enabled,
        changed,
        howToEnable: changed
          ? `${CONFIG_KEY} is now true in the config; restart the daemon for it to take effect.`
          : `Run \`${ENABLE_COMMAND}\` (or call checkStreamMounting({ enable: true })); restart the daemon if it still reports it off.`
      }
    }
  }
}

function callOptions(options: CallOptions): CallOptions {
  return { signal: options.signal, timeout: options.timeout }
}

function isDisabledError(error: unknown): boolean {
  return error instanceof Error && DISABLED_MESSAGE.test(error.message)
}

async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (isDisabledError(error)) throw new StreamMountingDisabledError({ cause: error })
    throw error
  }
}

/** `inbox` and `/x/inbox` both name `/x/inbox`; other namespaces would need Kubo's `allow-custom-protocol`. */
function protocolName(name: string): string {
  if (typeof name !== 'string' || name === '')
    throw new InvalidArgumentError('name', 'a tunnel name cannot be empty')
  const protocol = name.startsWith('/') ? name : `/x/${name}`
  checkProtocol(protocol, false, 'name')
  if (protocol === '/x/') throw new InvalidArgumentError('name', 'a tunnel name needs something after /x/')
  // libp2p negotiates protocols as newline-terminated text, and Kubo's CLI splits on whitespace.
  if (/\s/.test(protocol)) throw new InvalidArgumentError('name', `"${name}" contains whitespace`)
  return protocol
}

function checkPort(port: number, allowZero: boolean): number {
  const lowest = allowZero ? 0 : 1
  if (typeof port !== 'number' || !Number.isInteger(port) || port < lowest || port > 65_535) {
    throw new InvalidArgumentError(
      'port',
      `expected a whole number from ${lowest} to 65535, got ${String(port)}`
    )
  }
  return port
}

function hostAddress(host = '127.0.0.1'): string {
  const version = net.isIP(host)
  if (version === 0) throw new InvalidArgumentError('host', `"${host}" is not an IPv4 or IPv6 address`)
  return `/ip${version}/${host}`
}

/** Kubo lists a `listen` tunnel with its own `/p2p/<id>` as listen address, a `forward` with a local one. */
function isListener(entry: P2pListener): boolean {
  return entry.listenAddress.startsWith('/p2p/') || entry.listenAddress.startsWith('/ipfs/')
}

function byAddresses(first: P2pListener, second: P2pListener): number {
  return (
    first.protocol.localeCompare(second.protocol) ||
    first.listenAddress.localeCompare(second.listenAddress) ||
    first.targetAddress.localeCompare(second.targetAddress)
  )
}

function portOf(address: string): number {
  return Number(PORT.exec(address)?.[1] ?? Number.NaN)
}

function toListener(entry: P2pListener): TunnelListener {
  return {
    protocol: entry.protocol,
    listenAddress: entry.listenAddress,
    targetAddress: entry.targetAddress,
    port: portOf(entry.targetAddress)
  }
}

function toSender(entry: P2pListener): TunnelSender {
  return {
    protocol: entry.protocol,
    listenAddress: entry.listenAddress,
    targetAddress: entry.targetAddress,
    peerId: PEER_ID.exec(entry.targetAddress)?.[1] ?? '',
    port: portOf(entry.listenAddress)
  }
}
