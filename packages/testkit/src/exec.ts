import { spawn } from 'node:child_process'

export interface ExecOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  signal?: AbortSignal
  /** Called with each complete line the process writes to stderr. */
  onStderrLine?: (line: string) => void
  /** Called with each complete line the process writes to stdout. */
  onStdoutLine?: (line: string) => void
}

export interface ExecResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs a program with an argument array (never through a shell) and collects its output. Killed on
 * abort; rejects with the abort reason then, and with the spawn error when the program is missing.
 */
export async function exec(
  file: string,
  args: readonly string[],
  options: ExecOptions = {}
): Promise<ExecResult> {
  options.signal?.throwIfAborted()

  return await new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    let stdoutRest = ''
    let stderrRest = ''

    const onAbort = (): void => {
      child.kill('SIGKILL')
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })

    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      if (options.onStdoutLine != null) {
        stdoutRest = emitLines(stdoutRest + chunk, options.onStdoutLine)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      if (options.onStderrLine != null) {
        stderrRest = emitLines(stderrRest + chunk, options.onStderrLine)
      }
    })
    child.once('error', error => {
      options.signal?.removeEventListener('abort', onAbort)
      reject(error)
    })
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort)
      if (options.signal?.aborted === true) {
        reject(options.signal.reason)
        return
      }
      if (stdoutRest !== '') options.onStdoutLine?.(stdoutRest)
      if (stderrRest !== '') options.onStderrLine?.(stderrRest)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

function emitLines(text: string, onLine: (line: string) => void): string {
  const lines = text.split('\n')
  const rest = lines.pop() ?? ''
  for (const line of lines) onLine(line)
  return rest
}

/** Whether a process with this pid exists (and may be signalled by us). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
