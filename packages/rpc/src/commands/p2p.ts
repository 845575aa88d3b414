import net from 'node:net'
import { FORWARD_PORT_ATTEMPTS, INTERNAL_CALL_TIMEOUT } from '../constants.js'
import { InvalidArgumentError, KuboRpcError, RpcTimeoutError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkMultiaddr, checkPeerId, checkProtocol } from '../validate.js'

export interface P2pListenOptions extends CallOptions {
  /** Accept a protocol name that does not start with `/x/`. */
  allowCustomProtocol?: boolean
  /** Kubo first writes the remote peer id and `\n` to each new connection to the target. */
  reportPeerId?: boolean
  /**
   * Keep the request open while the tunnel lives and resolve with a handle; closing the handle (or
   * aborting `signal`) removes the tunnel. `timeout` then only limits how long opening may take.
   */
  foreground?: boolean
}

export interface P2pForwardOptions extends CallOptions {
  /** Accept a protocol name that does not start with `/x/`. */
  allowCustomProtocol?: boolean
  /** As for {@link P2pListenOptions.foreground}. */
  foreground?: boolean
}

export interface P2pCloseOptions extends CallOptions {
  /** Close every tunnel; cannot be combined with the matches below. */
  all?: boolean
  /** Close tunnels with this protocol name. */
  protocol?: string
  /** Close tunnels with this listen address (`/p2p/<ownId>` for `listen` tunnels). */
  listenAddress?: string
  /** Close tunnels with this target address (`/p2p/<peerId>` for `forward` tunnels). */
  targetAddress?: string
}

export interface P2pStreamCloseOptions extends CallOptions {
  /** Close every stream. */
  all?: boolean
}

/**
 * A tunnel end on this node, as `p2p ls` lists it. For `listen`: listenAddress `/p2p/<ownId>`,
 * targetAddress the local service. For `forward`: listenAddress the local TCP address (with the
 * real port when `/tcp/0` was asked for), targetAddress `/p2p/<remoteId>`.
 */
export interface P2pListener {
  protocol: string
  listenAddress: string
  targetAddress: string
}

/** An open stream through a tunnel. */
export interface P2pStream {
  /** Kubo's handler id, a decimal number; pass it to `stream.close`. */
  id: string
  protocol: string
  /** Where the stream came from: the local TCP client (forward side) or `/p2p/<remoteId>` (listen side). */
  originAddress: string
  /** Where it goes: `/p2p/<remoteId>` (forward side) or the local service (listen side). */
  targetAddress: string
}

/** A status line of a foreground tunnel. */
export interface P2pForegroundStatus {
  /** `active` once the tunnel is open; `closing` when it was removed with `p2p close`. */
  status: 'active' | 'closing'
  protocol: string
  /** The address as given: the target for `listen`, the listen address for `forward`. */
  address: string
}

/** A tunnel that lives as long as its request (`foreground`); close it before closing the client, whose connection pool waits for open requests. */
export interface P2pForegroundTunnel extends P2pListener, AsyncDisposable {
  /** Kubo's status lines, `active` first; ends when the tunnel ends, throws if the request failed. Each iteration replays from the start. */
  readonly status: AsyncIterable<P2pForegroundStatus>
  /** Resolves once the tunnel is gone from Kubo (closed here, aborted, or removed with `p2p close`); never rejects. */
  readonly closed: Promise<void>
  /** Ends the request, which removes the tunnel; resolves when Kubo no longer has it. Idempotent. */
  close(): Promise<void>
}

interface RawListener {
  Protocol: string
  ListenAddress: string
  TargetAddress: string
}

interface RawForegroundStatus {
  Status: string
  Protocol: string
  Address: string
}

const PORT_ZERO = /\/(?:tcp|udp)\/0(?:\/|$)/
/** The only port-0 shape Kubo can bind for a forward (it listens with Go's net on TCP). */
const ANY_TCP_PORT = /^\/(ip4|ip6)\/([^/]+)\/tcp\/0$/
const ADDRESS_IN_USE = /address already in use/i
/** Where a port is picked when the listen host is not an address of this machine (a remote daemon's). */
const HIGH_PORTS = { lowest: 49_152, count: 16_384 }

function isForwardOn(listener: P2pListener, protocol: string, listenAddress: string): boolean {
  return listener.protocol === protocol && listener.listenAddress === listenAddress
}

function toListener(raw: RawListener): P2pListener {
  return { protocol: raw.Protocol, listenAddress: raw.ListenAddress, targetAddress: raw.TargetAddress }
}

function toStatus(raw: RawForegroundStatus): P2pForegroundStatus {
  return {
    status: raw.Status === 'closing' ? 'closing' : 'active',
    protocol: raw.Protocol,
    address: raw.Address
  }
}

/** Kubo's `listen` target must name a local TCP or UDP port, and not port 0. */
function checkTargetPort(address: string, argument: string): string {
  const checked = checkMultiaddr(address, argument)
  const port = /\/(?:tcp|udp)\/(\d+)/.exec(checked)?.[1]
  if (port == null)
    throw new InvalidArgumentError(argument, `"${address}" needs a /tcp/<port> or /udp/<port>`)
  if (Number(port) === 0)
    throw new InvalidArgumentError(argument, `"${address}" cannot use port 0: it must name a running service`)
  return checked
}

/** `/p2p/<peerId>`, a full multiaddr ending in it, or a `/dnsaddr/` Kubo resolves to one. */
function checkRemoteAddress(address: string, argument: string): string {
  const checked = checkMultiaddr(address, argument)
  if (checked.startsWith('/dnsaddr/')) return checked
  const match = /\/(?:p2p|ipfs)\/([^/]+)$/.exec(checked)
  if (match == null) throw new InvalidArgumentError(argument, `"${address}" must end in /p2p/<peerId>`)
  checkPeerId(match[1] ?? '', argument)
  return checked
}

/**
 * A port that was free on `host` a moment ago, as the OS picks them; a random high port when
 * `host` is not an address of this machine (the daemon runs elsewhere and decides itself).
 */
async function probePort(host: string, avoid: ReadonlySet<number>): Promise<number> {
  const random = (): number => HIGH_PORTS.lowest + Math.floor(Math.random() * HIGH_PORTS.count)
  const port = await new Promise<number>(resolve => {
    const server = net.createServer()
    server.unref()
    server.once('error', () => resolve(random()))
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address()
      const chosen = typeof address === 'object' && address != null ? address.port : random()
      server.close(() => resolve(chosen))
    })
  })
  return avoid.has(port) ? random() : port
}

function isAddressInUse(error: unknown): boolean {
  return (
    (error as { name?: string } | null)?.name === 'KuboRpcError' &&
    ADDRESS_IN_USE.test((error as Error).message)
  )
}

/**
 * `p2p/*`: tunnels TCP connections over libp2p streams. Kubo needs
 * `Experimental.Libp2pStreamMounting` (`ipfs config --json Experimental.Libp2pStreamMounting true`).
 */
export function createP2pCommands(invoker: Invoker) {
  /** Ports this client is opening forwards on right now, so two of its own calls never pick the same one. */
  const choosing = new Set<number>()

  const ls = async (options: CallOptions = {}): Promise<P2pListener[]> =>
    list((await invoker.json<{ Listeners: RawListener[] | null }>('p2p/ls', options)).Listeners).map(
      toListener
    )

  const close = async (options: P2pCloseOptions = {}): Promise<number> => {
    const matches = [options.protocol, options.listenAddress, options.targetAddress].filter(
      value => value != null
    )
    if (options.all !== true && matches.length === 0) {
      throw new InvalidArgumentError(
        'options',
        'give all: true, or at least one of protocol, listenAddress, targetAddress'
      )
    }
    if (options.all === true && matches.length > 0) {
      throw new InvalidArgumentError(
        'options',
        'all: true cannot be combined with protocol, listenAddress or targetAddress'
      )
    }
    if (options.protocol === '') throw new InvalidArgumentError('protocol', 'a protocol name cannot be empty')
    if (options.listenAddress != null) checkMultiaddr(options.listenAddress, 'listenAddress')
    if (options.targetAddress != null) checkMultiaddr(options.targetAddress, 'targetAddress')
    return await invoker.json<number>('p2p/close', options)
  }

  /**
   * Opens a foreground tunnel. `own` matches exactly the tunnel this call asks for (its protocol
   * and the address only it can have), to remove it when the opening is given up; `onAbandoned`
   * hears of that removal, which runs on after the call has failed.
   */
  async function openForeground(
    command: 'p2p/listen' | 'p2p/forward',
    args: string[],
    options: P2pListenOptions | P2pForwardOptions,
    own: P2pCloseOptions,
    find: (listeners: P2pListener[]) => P2pListener | undefined,
    onAbandoned?: (removal: Promise<void>) => void
  ): Promise<P2pForegroundTunnel> {
    const { signal: callerSignal, timeout, ...kuboOptions } = options
    callerSignal?.throwIfAborted()
    const controller = new AbortController()
    const signal =
      callerSignal == null ? controller.signal : AbortSignal.any([callerSignal, controller.signal])
    // The request lives as long as the tunnel, so the caller's timeout only bounds the opening:
    // Kubo's first status line and the `p2p ls` that describes the tunnel.
    let timedOut = false
    const timer =
      timeout == null || !Number.isFinite(timeout)
        ? undefined
        : setTimeout(() => {
            timedOut = true
            controller.abort()
          }, timeout)
    const abandon = (error: unknown): unknown => {
      clearTimeout(timer)
      controller.abort()
      // Kubo may have registered the tunnel before we stopped waiting (its answer slow or lost).
      // It removes it once it notices the request is gone; closing it by its exact addresses
      // makes that certain. Not awaited: a daemon that does not answer must not hold the caller
      // past its deadline.
      const removal = invoker.json('p2p/close', { ...own, timeout: INTERNAL_CALL_TIMEOUT }).then(
        () => {},
        () => {
          // Best effort: the daemon may be gone or stuck, and the aborted request ends the tunnel too.
        }
      )
      onAbandoned?.(removal)
      return timedOut ? new RpcTimeoutError(command, timeout ?? 0, { cause: error }) : error
    }
    const lines = invoker.ndjson<RawForegroundStatus>(
      command,
      { ...kuboOptions, signal },
      { args, options: { foreground: true }, longLived: true }
    )
    let first: IteratorResult<RawForegroundStatus>
    try {
      first = await lines.next()
    } catch (error) {
      throw signal.aborted ? abandon(error) : error
    }
    if (first.done === true) {
      clearTimeout(timer)
      throw new KuboRpcError(command, 200, 'the foreground tunnel ended before it became active')
    }

    const statuses: P2pForegroundStatus[] = [toStatus(first.value)]
    let ended = false
    let failure: unknown
    let notify = (): void => {}
    let changed = new Promise<void>(resolve => {
      notify = resolve
    })
    const wake = (): void => {
      const resolve = notify
      changed = new Promise<void>(next => {
        notify = next
      })
      resolve()
    }

    const listed = await ls({ signal, timeout: INTERNAL_CALL_TIMEOUT }).catch(() => [])
    if (signal.aborted) {
      void lines.return(undefined).catch(() => {
        // The request is aborted already; ending the reader only lets go of it.
      })
      throw abandon(signal.reason)
    }
    clearTimeout(timer)
    const info = find(listed) ?? {
      protocol: first.value.Protocol,
      listenAddress: command === 'p2p/forward' ? first.value.Address : '',
      targetAddress: command === 'p2p/listen' ? first.value.Address : ''
    }

    const closed = (async (): Promise<void> => {
      try {
        for (;;) {
          const next = await lines.next()
          if (next.done === true) break
          statuses.push(toStatus(next.value))
          wake()
        }
      } catch (error) {
        // Aborting the request (close(), or the caller's signal) is how a foreground tunnel ends.
        if (!signal.aborted) failure = error
      }
      if (signal.aborted) {
        // Kubo removes the tunnel when it notices the request is gone, a moment after we stop
        // waiting; closing it by its exact addresses makes the removal certain before `closed`.
        const exactly: P2pCloseOptions = {
          protocol: info.protocol,
          ...(info.listenAddress === '' ? {} : { listenAddress: info.listenAddress }),
          ...(info.targetAddress === '' ? {} : { targetAddress: info.targetAddress }),
          timeout: INTERNAL_CALL_TIMEOUT
        }
        await invoker.json('p2p/close', exactly).catch(() => {
          // Best effort: the daemon may be gone, and then so is the tunnel.
        })
      }
      ended = true
      wake()
    })()

    let closing: Promise<void> | undefined
    const closeTunnel = async (): Promise<void> => {
      closing ??= (async () => {
        controller.abort()
        await closed
      })()
      await closing
    }

    return {
      ...info,
      status: {
        async *[Symbol.asyncIterator](): AsyncGenerator<P2pForegroundStatus> {
          let index = 0
          for (;;) {
            const next = statuses[index]
            if (next != null) {
              index++
              yield next
              continue
            }
            if (ended) {
              if (failure != null) throw failure
              return
            }
            await changed
          }
        }
      },
      closed,
      close: closeTunnel,
      [Symbol.asyncDispose]: closeTunnel
    }
  }

  /**
   * Serves `protocol` to other peers: each incoming stream is connected to `targetAddress`, a local
   * service (e.g. `/ip4/127.0.0.1/tcp/8080`). With `foreground: true`, resolves with a handle whose
   * `close()` removes the tunnel.
   */
  function listen(
    protocol: string,
    targetAddress: string,
    options: P2pListenOptions & { foreground: true }
  ): Promise<P2pForegroundTunnel>
  function listen(
    protocol: string,
    targetAddress: string,
    options?: P2pListenOptions & { foreground?: false }
  ): Promise<void>
  async function listen(
    protocol: string,
    targetAddress: string,
    options: P2pListenOptions = {}
  ): Promise<unknown> {
    checkProtocol(protocol, options.allowCustomProtocol)
    const target = checkTargetPort(targetAddress, 'targetAddress')
    if (options.foreground === true) {
      // Only one listener per protocol; the target names it too (a local port this caller chose).
      const own = { protocol, targetAddress: target }
      return await openForeground('p2p/listen', [protocol, target], options, own, listeners =>
        listeners.find(
          listener =>
            listener.protocol === protocol &&
            listener.targetAddress === target &&
            listener.listenAddress.startsWith('/p2p/')
        )
      )
    }
    await invoker.none('p2p/listen', options, { args: [protocol, target] })
  }

  /**
   * Listens on `listenAddress` (e.g. `/ip4/127.0.0.1/tcp/0`) and tunnels each connection to
   * `protocol` on the peer at `targetAddress` (`/p2p/<peerId>` or a multiaddr ending in it). With
   * `foreground: true`, resolves with a handle whose `close()` removes the tunnel; without, with the
   * tunnel as Kubo lists it. Either way `listenAddress` has the real port.
   */
  function forward(
    protocol: string,
    listenAddress: string,
    targetAddress: string,
    options: P2pForwardOptions & { foreground: true }
  ): Promise<P2pForegroundTunnel>
  function forward(
    protocol: string,
    listenAddress: string,
    targetAddress: string,
    options?: P2pForwardOptions & { foreground?: false }
  ): Promise<P2pListener>
  async function forward(
    protocol: string,
    listenAddress: string,
    targetAddress: string,
    options: P2pForwardOptions = {}
  ): Promise<unknown> {
    checkProtocol(protocol, options.allowCustomProtocol)
    const listenOn = checkMultiaddr(listenAddress, 'listenAddress')
    const target = checkRemoteAddress(targetAddress, 'targetAddress')
    const anyPort = ANY_TCP_PORT.exec(listenOn)
    if (anyPort == null && PORT_ZERO.test(listenOn)) {
      throw new InvalidArgumentError(
        'listenAddress',
        `"${listenAddress}": port 0 works only as /ip4/<address>/tcp/0 or /ip6/<address>/tcp/0`
      )
    }
    const open = (
      address: string,
      onAbandoned?: (removal: Promise<void>) => void
    ): Promise<P2pForegroundTunnel | P2pListener> =>
      options.foreground === true
        ? openForeground(
            'p2p/forward',
            [protocol, address, target],
            options,
            // The listen address is unique on the daemon: this matches our tunnel and no other.
            { protocol, listenAddress: address },
            listeners => listeners.find(listener => isForwardOn(listener, protocol, address)),
            onAbandoned
          )
        : openBackgroundForward(protocol, address, target, options)
    if (anyPort == null) return await open(listenOn)

    // Port 0: Kubo's answer does not say which port it bound, and finding "the new entry" in
    // `p2p ls` afterwards is a guess that another forward opened at the same moment (by this
    // client, another client, or another program on the daemon) can win, and then two handles
    // swap ports and peers. So we choose the port: one the OS just called free, which Kubo then
    // binds exclusively; the tunnel on that address is ours and nobody else's. If something took
    // the port in between, Kubo says "address already in use" and we try another.
    const [, family, host] = anyPort
    for (let attempt = 1; ; attempt++) {
      const port = await probePort(host ?? '', choosing)
      if (choosing.has(port)) continue
      choosing.add(port)
      let removal: Promise<void> | undefined
      try {
        return await open(`/${family}/${host}/tcp/${port}`, abandoned => {
          removal = abandoned
        })
      } catch (error) {
        if (attempt >= FORWARD_PORT_ATTEMPTS || !isAddressInUse(error)) throw error
      } finally {
        // A given-up opening's port stays ours until its removal is done, so that removal (by
        // this exact address) can never close another call's new forward on the same port.
        if (removal == null) choosing.delete(port)
        else void removal.then(() => choosing.delete(port))
      }
    }
  }

  async function openBackgroundForward(
    protocol: string,
    listenAddress: string,
    target: string,
    options: P2pForwardOptions
  ): Promise<P2pListener> {
    const { foreground: _, ...rest } = options
    await invoker.none('p2p/forward', rest, { args: [protocol, listenAddress, target] })
    // Kubo's own spelling of the target (e.g. `/p2p/<id>` for a full multiaddr); the listen
    // address is unique on the daemon, so it finds exactly this tunnel.
    const listed = await ls({ signal: options.signal, timeout: INTERNAL_CALL_TIMEOUT }).catch(() => [])
    return (
      listed.find(listener => isForwardOn(listener, protocol, listenAddress)) ?? {
        protocol,
        listenAddress,
        targetAddress: /\/(?:p2p|ipfs)\/[^/]+$/.exec(target)?.[0] ?? target
      }
    )
  }

  return {
    listen,
    forward,
    /** The tunnels on this node: `listen` and `forward` ends alike. */
    ls,
    /** Closes the tunnels that match every option given (or all); resolves with how many were closed. */
    close,

    stream: {
      /** The streams open through this node's tunnels. */
      ls: async (options: CallOptions = {}): Promise<P2pStream[]> =>
        list(
          (
            await invoker.json<{
              Streams: Array<{
                HandlerID: string
                Protocol: string
                OriginAddress: string
                TargetAddress: string
              }> | null
            }>('p2p/stream/ls', options)
          ).Streams
        ).map(stream => ({
          id: stream.HandlerID,
          protocol: stream.Protocol,
          originAddress: stream.OriginAddress,
          targetAddress: stream.TargetAddress
        })),

      /** Resets one stream by its id (from `stream.ls`), or every stream with `{ all: true }`. */
      close: async (
        id: string | P2pStreamCloseOptions,
        options: P2pStreamCloseOptions = {}
      ): Promise<void> => {
        if (typeof id === 'object') {
          if (id.all !== true) throw new InvalidArgumentError('id', 'give a stream id, or { all: true }')
          await invoker.none('p2p/stream/close', id)
          return
        }
        if (!/^\d+$/.test(String(id)))
          throw new InvalidArgumentError(
            'id',
            `"${String(id)}" is not a stream id (a decimal number from stream.ls)`
          )
        await invoker.none('p2p/stream/close', options, { args: [id] })
      }
    }
  }
}
