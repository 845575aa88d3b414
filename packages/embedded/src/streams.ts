import type { Libp2p, Stream } from '@libp2p/interface'
import {
  type CallOptions,
  InvalidArgumentError,
  type PeerStream,
  type StreamHandler,
  type StreamServer,
  type StreamSource
} from '@tk/interface'
import { runCall } from './call.js'
import { parsePeerId } from './peers.js'

/** Only `/x/<name>`: the protocols Kubo's stream mounting and @tk/transmission use, never libp2p's own. */
const PROTOCOL = /^\/x\/[^/\s]+$/
/**
 * Streams of one served protocol open at once per connection, each way. libp2p's defaults (32 in,
 * 64 out) reset the 33rd stream a Kubo peer opens, where Kubo's stream mounting has no such
 * limit; the user of a stream source bounds its work itself (@tk/transmission's listeners admit
 * streams and refuse the rest with `busy`), so this only stops a flood of idle streams.
 */
const MAX_STREAMS_PER_CONNECTION = 1024

/** Byte streams on `/x/<name>` straight on libp2p, the remote peer authenticated by the connection. */
export function createStreams(libp2p: Libp2p, closing: AbortSignal): StreamSource {
  return {
    peerId: async () => libp2p.peerId.toString(),

    serve: async (
      protocol: string,
      handler: StreamHandler,
      options: CallOptions = {}
    ): Promise<StreamServer> => {
      checkProtocol(protocol)
      return await runCall('streams.serve', options, closing, async () => {
        await libp2p.handle(
          protocol,
          (stream, connection) => {
            const wrapped = wrapStream(stream, connection.remotePeer.toString())
            Promise.resolve()
              .then(() => handler(wrapped))
              .catch((error: unknown) => {
                // The handler owns the stream; one that fails leaves it to us to end, so the peer is not left waiting.
                wrapped.abort(error instanceof Error ? error : new Error(String(error)))
              })
          },
          { maxInboundStreams: MAX_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_STREAMS_PER_CONNECTION }
        )
        let closed = false
        const close = async (): Promise<void> => {
          if (closed) return
          closed = true
          await libp2p.unhandle(protocol)
        }
        return { protocol, close, [Symbol.asyncDispose]: close }
      })
    },

    open: async (peerId: string, protocol: string, options: CallOptions = {}): Promise<PeerStream> => {
      checkProtocol(protocol)
      const peer = parsePeerId(peerId)
      return await runCall('streams.open', options, closing, async signal =>
        wrapStream(
          await libp2p.dialProtocol(peer, protocol, {
            signal,
            maxOutboundStreams: MAX_STREAMS_PER_CONNECTION
          }),
          peerId
        )
      )
    }
  }
}

function checkProtocol(protocol: string): void {
  if (typeof protocol !== 'string' || !PROTOCOL.test(protocol))
    throw new InvalidArgumentError('protocol', `expected /x/<name>, got ${JSON.stringify(protocol)}`)
}

function wrapStream(stream: Stream, remotePeerId: string): PeerStream {
  const close = async (options: CallOptions = {}): Promise<void> => {
    await stream.close({
      signal: options.signal ?? (options.timeout == null ? undefined : AbortSignal.timeout(options.timeout))
    })
  }
  return {
    remotePeerId,
    async *[Symbol.asyncIterator]() {
      // libp2p hands out Uint8Array or Uint8ArrayList chunks; callers get plain bytes.
      for await (const chunk of stream) yield chunk instanceof Uint8Array ? chunk : chunk.subarray()
    },
    write: async (data: Uint8Array, options: CallOptions = {}) => {
      if (!stream.send(data)) {
        await stream.onDrain({
          signal:
            options.signal ?? (options.timeout == null ? undefined : AbortSignal.timeout(options.timeout))
        })
      }
    },
    closeWrite: close,
    close,
    abort: (error?: Error) => stream.abort(error ?? new Error('aborted')),
    [Symbol.asyncDispose]: async () => {
      await close().catch(() => stream.abort(new Error('closing failed')))
    }
  }
}
