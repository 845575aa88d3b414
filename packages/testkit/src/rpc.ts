import { DEFAULT_RPC_TIMEOUT } from './constants.js'
import { KuboRequestError } from './errors.js'

export interface RpcOptions {
  args?: string[]
  options?: Record<string, string | number | boolean>
  body?: Uint8Array
  signal?: AbortSignal
  timeout?: number
  /** An `Authorization` header, for nodes configured with `API.Authorizations`. */
  authorization?: string
}

/**
 * The few RPC calls the testkit itself needs (connect peers, read addresses, shut down). Kept
 * here rather than using @tk/rpc so that the client's own tests can depend on the testkit.
 */
export async function rpc<T = unknown>(
  apiUrl: string,
  command: string,
  options: RpcOptions = {}
): Promise<T> {
  const url = new URL(`/api/v0/${command}`, apiUrl)
  for (const arg of options.args ?? []) url.searchParams.append('arg', arg)
  for (const [key, value] of Object.entries(options.options ?? {})) url.searchParams.set(key, String(value))
  let body: FormData | undefined
  if (options.body != null) {
    body = new FormData()
    body.append('file', new Blob([options.body]))
  }
  const signal = AbortSignal.any([
    ...(options.signal == null ? [] : [options.signal]),
    AbortSignal.timeout(options.timeout ?? DEFAULT_RPC_TIMEOUT)
  ])
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      body,
      signal,
      headers: options.authorization == null ? {} : { authorization: options.authorization }
    })
  } catch (error) {
    throw new KuboRequestError(`POST ${url.pathname} to ${apiUrl} failed: ${(error as Error).message}`, {
      cause: error
    })
  }
  const text = await response.text()
  if (!response.ok) {
    let message = text
    try {
      message = (JSON.parse(text) as { Message?: string }).Message ?? text
    } catch {
      // Not JSON: keep the raw text as the message.
    }
    throw new KuboRequestError(`${command} failed on ${apiUrl} (HTTP ${response.status}): ${message}`)
  }
  if (text === '') return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    return text as T
  }
}
