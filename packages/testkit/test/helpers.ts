import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { isProcessAlive } from '../src/exec.js'

export { isProcessAlive }

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** POSTs one RPC call and returns the raw body; throws on a non-2xx status. */
export async function post(
  apiUrl: string,
  command: string,
  args: string[] = [],
  body?: Uint8Array
): Promise<Uint8Array> {
  const url = new URL(`/api/v0/${command}`, apiUrl)
  for (const arg of args) url.searchParams.append('arg', arg)
  let form: FormData | undefined
  if (body != null) {
    form = new FormData()
    form.append('file', new Blob([body]))
  }
  const response = await fetch(url, { method: 'POST', body: form })
  const bytes = new Uint8Array(await response.arrayBuffer())
  if (!response.ok) throw new Error(`${command}: HTTP ${response.status} ${new TextDecoder().decode(bytes)}`)
  return bytes
}

export async function postJson<T>(
  apiUrl: string,
  command: string,
  args: string[] = [],
  body?: Uint8Array
): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await post(apiUrl, command, args, body))) as T
}

/**
 * Waits until a process is gone, up to `ms`. It is not our child (a daemon of a killed test
 * process), so no event tells its exit: asking every 50 ms is all there is.
 */
export async function waitForExit(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true
    await sleep(50)
  }
  return !isProcessAlive(pid)
}

/** Starts the hold-node fixture and resolves with the child and the node it started. */
export async function startHoldNode(env: NodeJS.ProcessEnv): Promise<{
  child: ReturnType<typeof spawn>
  node: { pid: number; repoPath: string }
}> {
  const child = spawn(process.execPath, [new URL('./fixtures/hold-node.mjs', import.meta.url).pathname], {
    env,
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const line = await new Promise<string>((resolve, reject) => {
    let output = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
      if (output.includes('\n')) resolve(output.split('\n')[0] ?? '')
    })
    child.once('exit', code => reject(new Error(`hold-node exited early with code ${code}`)))
  })
  return { child, node: JSON.parse(line) as { pid: number; repoPath: string } }
}
