import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** Bitcoin base58 (base58btc without the multibase prefix), as peer ids are written. */
export function base58(bytes: Uint8Array): string {
  let value = BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`)
  let text = ''
  while (value > 0n) {
    text = BASE58[Number(value % 58n)] + text
    value /= 58n
  }
  for (const byte of bytes) {
    if (byte !== 0) break
    text = `1${text}`
  }
  return text
}

/**
 * A fresh Ed25519-style peer id (`12D3KooW…`): an identity multihash of a protobuf public key with
 * random key bytes. Nobody holds its private key; it is only ever stored, never dialled.
 */
export function randomPeerId(): string {
  return base58(Buffer.concat([Buffer.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]), randomBytes(32)]))
}

/** A temp folder removed by the returned disposer. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-lns-test-'))
  return {
    path: dir,
    [Symbol.asyncDispose]: async () => {
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}

/** A local TCP port nothing listens on: bound by us, then released. */
export async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

/** The pid of a process that has exited. */
export async function deadPid(): Promise<number> {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise(resolve => child.once('exit', resolve))
  if (child.pid == null) throw new Error('could not start a process to get a dead pid')
  return child.pid
}

/** A local TCP server that accepts connections and never answers: a dial to it hangs until cancelled. */
export async function silentServer(): Promise<{ address: string; open: () => number } & AsyncDisposable> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    // Reads (and drops) what the dialler sends, never answering. A socket left paused with the
    // dialler's first bytes unread may never notice the dialler closing or resetting it (seen on Node
    // 22 when the reset lands before Node accepts the connection), and would count as open for ever.
    socket.resume()
    socket.on('error', () => {
      // The dialler resetting the connection is expected: that is how a cancelled dial ends.
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    address: `/ip4/127.0.0.1/tcp/${port}`,
    open: () => sockets.size,
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
