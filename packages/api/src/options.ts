import type { CallOptions } from '@tk/rpc'

export type { CallOptions }

export type BackendName = 'http' | 'cli'

export interface IpfsOptions {
  /**
   * How to reach Kubo: `http` (its RPC API), `cli` (the `ipfs` command), or `auto` (default): HTTP
   * when the daemon answers there, else the CLI when it can reach a running daemon.
   */
  backend?: 'auto' | BackendName
  /**
   * The API address as a multiaddr or URL. Default: `IPFS_API`, then the `api` file of the repo
   * (`IPFS_PATH`, default `~/.ipfs`), then `/ip4/127.0.0.1/tcp/5001`.
   */
  api?: string
  /** Credentials for `API.Authorizations`: `Bearer <token>` / `Basic <base64>` over HTTP, the secret (`user:password` or token) for the CLI's `--api-auth`. */
  authorization?: string
  /** The repo (`IPFS_PATH`) for the CLI backend and `startDaemon`. */
  repoPath?: string
  /** The `ipfs` executable for the CLI backend and `startDaemon`; default `KUBO_BINARY`, then `ipfs` on PATH. */
  binary?: string
  /**
   * How long a call may go without progress (no answer yet, no new bytes) when it passes no
   * `timeout` of its own (ms); default 120 000. A call's `timeout` is a deadline for the whole call.
   */
  idleTimeout?: number
  /** @deprecated The old name of `idleTimeout`. */
  timeout?: number
}
