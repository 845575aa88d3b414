import { once } from 'node:events'
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { socketStream } from '../src/streams.js'

// A unit test on two local sockets (no Kubo): the PeerStream that the Kubo stream source makes of
// each tunnel connection.

describe('socketStream', () => {
  it('abort() during a close that waits for the peer ends the connection, so the process can exit', async () => {
    const server = net.createServer(socket => {
      // The far end never ends its side: our close() waits for it.
      socket.on('error', () => {})
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const socket = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port })
    await once(socket, 'connect')
    try {
      const stream = socketStream(socket, '')
      await stream.write(new Uint8Array(10))
      const closing = stream.close({ timeout: 60_000 })
      const closed = once(socket, 'close')
      stream.abort(new Error('the node is closing'))
      // The socket closed (its handle is gone), so nothing of it keeps the process alive. A reset
      // of the ended socket failed (reset EINVAL) and left the handle open.
      await closed
      await closing
      expect(socket.destroyed).toBe(true)
      expect((socket as unknown as { _handle: unknown })._handle).toBeNull()
    } finally {
      socket.destroy()
      server.close()
    }
  })
})
