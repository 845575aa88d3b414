import type { ChildProcess } from 'node:child_process'
import { DAEMON_READY_LINE, DAEMON_STDOUT_TAIL } from './constants.js'
import { DaemonNotReadyError } from './errors.js'

export interface WaitForDaemonReadyOptions {
  /** Stops the wait (the process is left running: stopping it is the caller's job). */
  signal?: AbortSignal
}

/**
 * Waits until a just-spawned `ipfs daemon` (spawned with stdout piped) prints "Daemon is ready",
 * which Kubo does once its RPC API listens, and resolves with what it printed on stdout until then
 * (the banner with its API and gateway addresses). Rejects with {@link DaemonNotReadyError} when the
 * process exits first (after its output has closed, so the caller's copy of stderr is complete; also
 * when that happened before the call), cannot be started, or `signal` aborts. Afterwards stdout keeps
 * flowing, so the daemon never blocks on a full pipe.
 */
export async function waitForDaemonReady(
  child: ChildProcess,
  options: WaitForDaemonReadyOptions = {}
): Promise<string> {
  const { signal } = options
  const stdout = child.stdout
  if (stdout == null) throw new TypeError('waitForDaemonReady needs `ipfs daemon` spawned with stdout piped')
  let text = ''
  if (signal?.aborted === true) {
    throw new DaemonNotReadyError('aborted', { stdout: text }, { cause: signal.reason })
  }
  const exited = child.exitCode != null || child.signalCode != null
  if (exited && stdout.destroyed && (child.stderr?.destroyed ?? true)) {
    // Exited and its output closed before we were called: 'close' has been emitted already.
    throw new DaemonNotReadyError('exited', {
      stdout: text,
      exitCode: child.exitCode,
      exitSignal: child.signalCode
    })
  }
  return await new Promise<string>((resolve, reject) => {
    const finish = (error?: DaemonNotReadyError): void => {
      stdout.off('data', onData)
      child.off('close', onClose)
      child.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
      // Drains what comes after the banner when nobody else reads it (no-op while flowing).
      stdout.resume()
      if (error == null) resolve(text)
      else reject(error)
    }
    const onData = (chunk: string | Buffer): void => {
      text = (text + chunk.toString()).slice(-DAEMON_STDOUT_TAIL)
      if (text.includes(DAEMON_READY_LINE)) finish()
    }
    const onClose = (exitCode: number | null, exitSignal: NodeJS.Signals | null): void => {
      finish(new DaemonNotReadyError('exited', { stdout: text, exitCode, exitSignal }))
    }
    const onError = (error: Error): void => {
      finish(new DaemonNotReadyError('spawn-failed', { stdout: text }, { cause: error }))
    }
    const onAbort = (): void => {
      finish(new DaemonNotReadyError('aborted', { stdout: text }, { cause: signal?.reason }))
    }
    stdout.on('data', onData)
    child.once('close', onClose)
    child.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
