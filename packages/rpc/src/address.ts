import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_API_MULTIADDR } from './constants.js'
import { InvalidArgumentError } from './errors.js'

export interface ApiEndpoint {
  /** `http(s)://host:port`; for a unix socket, `http://localhost`. */
  origin: string
  /** Set when the API listens on a unix socket. */
  socketPath?: string
  /** An `Authorization` header taken from `user:password@` in a URL. */
  authorization?: string
  /** Where the address came from, for error messages. */
  source: 'option' | 'IPFS_API' | 'repo api file' | 'default'
}

/**
 * Finds Kubo's API: the given address; else `IPFS_API`; else the `api` file the daemon writes in
 * its repo (`$IPFS_PATH`, default `~/.ipfs`); else `/ip4/127.0.0.1/tcp/5001`. Accepts URLs and
 * multiaddrs (`/ip4/…/tcp/…`, `/dns4/…`, `/ip6/…`, optionally `/http` or `/tls/http`, `/unix/…`).
 */
export function resolveApiEndpoint(address?: string, env: NodeJS.ProcessEnv = process.env): ApiEndpoint {
  if (address != null && address !== '') return parseApiAddress(address, 'option')
  if (env.IPFS_API != null && env.IPFS_API !== '') return parseApiAddress(env.IPFS_API, 'IPFS_API')
  const repo =
    env.IPFS_PATH != null && env.IPFS_PATH !== '' ? env.IPFS_PATH : path.join(os.homedir(), '.ipfs')
  try {
    const fromFile = readFileSync(path.join(repo, 'api'), 'utf8').trim()
    if (fromFile !== '') return parseApiAddress(fromFile, 'repo api file')
  } catch {
    // No api file: the daemon is not running from that repo; fall back to Kubo's default address.
  }
  return parseApiAddress(DEFAULT_API_MULTIADDR, 'default')
}

export function parseApiAddress(address: string, source: ApiEndpoint['source']): ApiEndpoint {
  const text = address.trim()
  if (/^https?:\/\//i.test(text)) {
    let url: URL
    try {
      url = new URL(text)
    } catch (error) {
      throw new InvalidArgumentError('API address', `"${text}" is not a URL`, { cause: error })
    }
    const authorization =
      url.username !== ''
        ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
        : undefined
    return { origin: url.origin, authorization, source }
  }
  if (!text.startsWith('/')) {
    throw new InvalidArgumentError(
      'API address',
      `"${text}" is neither a URL (http://127.0.0.1:5001) nor a multiaddr (/ip4/127.0.0.1/tcp/5001)`
    )
  }
  if (text.startsWith('/unix/')) {
    // The unix protocol's value is the rest of the address, a path (URL-encoded in some writers).
    return { origin: 'http://localhost', socketPath: decodeURIComponent(text.slice('/unix'.length)), source }
  }
  let components: Array<{ name: string; value?: string }>
  try {
    components = multiaddr(text).getComponents()
  } catch (error) {
    throw new InvalidArgumentError('API address', `"${text}" is not a valid multiaddr`, { cause: error })
  }
  const first = components[0]
  const port = components.find(component => component.name === 'tcp')?.value
  if (first?.value == null || port == null || !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(first.name)) {
    throw new InvalidArgumentError(
      'API address',
      `"${text}" must be /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>[/http|/tls/http|/https] or /unix/<path>`
    )
  }
  const secure = components.some(component => component.name === 'https' || component.name === 'tls')
  const host = first.name === 'ip6' ? `[${first.value}]` : first.value
  return { origin: `${secure ? 'https' : 'http'}://${host}:${port}`, source }
}
