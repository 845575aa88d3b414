import net, { type Server, type Socket } from 'node:net'
import type { P2pForegroundTunnel } from '@tk/rpc'
import { socketStream } from '@tk/rpc/streams'
import { checkPeerId } from '@tk/rpc/validate'
import { raceSignal } from 'race-signal'
import { TransmissionError } from '../errors.js'
import { FrameStream } from '../frame-stream.js'
import { withDeadline } from '../options.js'
import type { PythonNode } from './node.js'

/** How long opening a tunnel may take (ms). */
export const OPEN_TIMEOUT = 30_000

export async function listenLocally(
  onConnection: (socket: Socket) => void
): Promise<{ server: Server; port: number }> {
  const server = net.createServer(onConnection)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, port: (server.address() as net.AddressInfo).port }
}

export async function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy()
  await new Promise<void>(resolve => server.close(() => resolve()))
}

/** Reads Kubo's `--report-peer-id` line; undefined when it is missing or not a peer id. */
export async function reportedPeer(stream: FrameStream, signal: AbortSignal): Promise<string | undefined> {
  try {
    const peerId = (await stream.readLine(128, signal)).trim()
    checkPeerId(peerId)
    return peerId
  } catch {
    return undefined
  }
}

/** The one-off tunnel a Python transmission's data comes through, named after its TCP port. */
export interface DataTunnel {
  readonly name: string
  /** The first connection from the expected peer, past Kubo's peer-id line; rejects after `timeout` ms. */
  accept(timeout: number): Promise<FrameStream>
  close(): Promise<void>
}

/**
 * Opens `/x/<port>` (as the Python listener does: the port is unique on this machine while we hold
 * it, so no Python peer on the same node can claim the name) with `--report-peer-id`, and hands
 * out the first connection that comes from `peerId`; others are closed unread.
 */
export async function openDataTunnel(
  client: PythonNode,
  peerId: string,
  idleTimeout: number,
  signal: AbortSignal
): Promise<DataTunnel> {
  const sockets = new Set<Socket>()
  let deliver: (stream: FrameStream) => void = () => {}
  const delivered = new Promise<FrameStream>(resolve => {
    deliver = resolve
  })
  let taken = false
  const { server, port } = await listenLocally(socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    if (taken) {
      socket.destroy()
      return
    }
    void (async () => {
      const stream = new FrameStream(socketStream(socket, ''), { maxFrame: 1024 * 1024, idleTimeout })
      const from = await reportedPeer(stream, signal)
      if (from !== peerId || taken) {
        stream.close()
        return
      }
      taken = true
      stream.peerId = from
      deliver(stream)
    })()
  })
  const name = String(port)
  let tunnel: P2pForegroundTunnel
  try {
    // `signal` is the listener's: the tunnel may live as long as that, and is closed after use.
    tunnel = await client.p2p.listen(`/x/${name}`, `/ip4/127.0.0.1/tcp/${port}`, {
      foreground: true,
      reportPeerId: true,
      signal,
      timeout: OPEN_TIMEOUT
    })
  } catch (error) {
    await closeServer(server, sockets)
    throw error
  }
  let closing: Promise<void> | undefined
  return {
    name,
    accept: async timeout =>
      // `callDeadline`'s forwarding, not `AbortSignal.any`: nothing stays attached to the listener's
      // long-lived `signal` once the wait is over. The listener closing ends the wait at once.
      await withDeadline(
        { signal, timeout },
        timeout,
        async deadline =>
          await raceSignal(delivered, deadline, {
            translateError: () =>
              signal.aborted
                ? (signal.reason as Error)
                : new TransmissionError(
                    'idle-timeout',
                    `the Python sender did not send its data within ${timeout} ms`,
                    { peerId }
                  )
          })
      ),
    close: async () => {
      closing ??= (async () => {
        await tunnel.close()
        await closeServer(server, sockets)
      })()
      await closing
    }
  }
}
