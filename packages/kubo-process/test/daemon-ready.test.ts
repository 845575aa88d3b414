import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DaemonNotReadyError, waitForDaemonReady } from '../src/index.js'

// Stand-ins for `ipfs daemon`: shell scripts that print what Kubo prints (or not). What is under
// test is how we follow a process's output and exit; the real daemon is started through this
// function by @tk/testkit's and @tk/api's own tests.

const folders: string[] = []
const children: ChildProcess[] = []

async function standIn(body: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-kubo-process-'))
  folders.push(dir)
  const file = path.join(dir, 'ipfs')
  await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

function start(file: string): ChildProcess {
  const child = spawn(file, ['daemon'], { stdio: ['pipe', 'pipe', 'pipe'] })
  children.push(child)
  return child
}

async function rejection(promise: Promise<unknown>): Promise<DaemonNotReadyError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught
  )
  expect(error).toBeInstanceOf(DaemonNotReadyError)
  return error as DaemonNotReadyError
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode == null && child.signalCode == null) {
      child.kill('SIGKILL')
      await once(child, 'close')
    }
  }
  await Promise.all(folders.splice(0).map(dir => fs.rm(dir, { recursive: true, force: true })))
})

describe('waitForDaemonReady', () => {
  it('resolves with the banner once "Daemon is ready" is printed, with the daemon still running', async () => {
    const banner =
      'Initializing daemon...\nRPC API server listening on /ip4/127.0.0.1/tcp/5099\nDaemon is ready\n'
    const file = await standIn(
      `printf '${banner.replaceAll('\n', '\\n')}'\nread line\necho "after the banner"\nread line`
    )
    const child = start(file)
    expect(await waitForDaemonReady(child)).toBe(banner)
    expect(child.exitCode).toBeNull()
    // Output after the banner still flows (nobody else reads it here): the daemon is not blocked on the pipe.
    child.stdin?.write('\n')
    const [after] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
    expect(after.toString()).toBe('after the banner\n')
  })

  it('sees the line when it arrives split over two writes', async () => {
    const file = await standIn('printf "Daemon is"\nread line\nprintf " ready\\n"\nread line')
    const child = start(file)
    const ready = waitForDaemonReady(child)
    let settled = false
    void ready.then(() => {
      settled = true
    })
    const [first] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
    expect(first.toString()).toBe('Daemon is')
    expect(settled).toBe(false)
    child.stdin?.write('\n')
    expect(await ready).toBe('Daemon is ready\n')
  })

  it('rejects with the exit code and what it printed when the daemon exits first, once all its stderr has arrived', async () => {
    // A leftover child of the daemon holds stderr open after the daemon's exit and writes its last
    // words only when told (after the exit): the rejection must wait for them.
    const file = await standIn(
      [
        'echo "Initializing daemon..."',
        'echo "Error: lock held"',
        'exec 3<&0',
        '(read line <&3; echo "last words" >&2) &',
        'exit 3'
      ].join('\n')
    )
    const child = start(file)
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.once('exit', () => child.stdin?.write('\n'))
    const error = await rejection(waitForDaemonReady(child))
    expect(stderr).toBe('last words\n')
    expect(error.reason).toBe('exited')
    expect(error.exitCode).toBe(3)
    expect(error.exitSignal).toBeNull()
    expect(error.stdout).toBe('Initializing daemon...\nError: lock held\n')
    expect(error.lastLine).toBe('Error: lock held')
    expect(error.message).toBe('`ipfs daemon` exited before it was ready (exit code 3)')
  })

  it('rejects at once for a daemon that exited, output closed, before the call', async () => {
    const child = start(await standIn('exit 4'))
    await once(child, 'close')
    // Without the check for an exit that came first, this would wait for the signal.
    const error = await rejection(waitForDaemonReady(child, { signal: AbortSignal.timeout(5_000) }))
    expect(error.reason).toBe('exited')
    expect(error.exitCode).toBe(4)
  })

  it('names the signal when one ended the daemon', async () => {
    const child = start(await standIn('read line'))
    const waiting = waitForDaemonReady(child)
    child.kill('SIGKILL')
    const error = await rejection(waiting)
    expect(error.reason).toBe('exited')
    expect(error.exitSignal).toBe('SIGKILL')
    expect(error.lastLine).toBeUndefined()
  })

  it('rejects with the spawn error when the file cannot be run', async () => {
    const child = start(path.join(os.tmpdir(), 'tk-kubo-process-missing', 'ipfs'))
    const error = await rejection(waitForDaemonReady(child))
    expect(error.reason).toBe('spawn-failed')
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT')
  })

  it('rejects on abort with the reason as cause and leaves the process running', async () => {
    const child = start(await standIn('echo "Initializing daemon..."\nread line'))
    const controller = new AbortController()
    const waiting = waitForDaemonReady(child, { signal: controller.signal })
    await once(child.stdout as NodeJS.ReadableStream, 'data')
    const reason = new Error('test over')
    controller.abort(reason)
    const error = await rejection(waiting)
    expect(error.reason).toBe('aborted')
    expect(error.cause).toBe(reason)
    expect(error.lastLine).toBe('Initializing daemon...')
    expect(child.exitCode).toBeNull()
    expect(child.signalCode).toBeNull()

    const already = await rejection(waitForDaemonReady(child, { signal: AbortSignal.abort(reason) }))
    expect(already.reason).toBe('aborted')
  })
})
