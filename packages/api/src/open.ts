import type { Ipfs as GroupedIpfs, IpfsMode } from '@tk/interface'
import { InvalidArgumentError } from '@tk/rpc'
import { EmbeddedNotInstalledError } from './errors.js'
import { createIpfs } from './ipfs.js'
import type { CallOptions, IpfsOptions } from './options.js'

/** The package embedded mode loads; an optional peer dependency, so Kubo-only installs never pull Helia. */
const EMBEDDED_PACKAGE = '@tk/embedded'

export interface OpenIpfsOptions extends Omit<IpfsOptions, 'timeout'>, CallOptions {
  /**
   * `kubo` (a Kubo daemon, through `backend`, `api`, …) or `embedded` (a node in this process,
   * from @tk/embedded). Default: the `TK_MODE` environment variable (`kubo` | `embedded`), then
   * the Python toolkit's `IPFS_TK_MODE` (`HTTP` | `EMBEDDED`), then `kubo`.
   */
  mode?: IpfsMode
  /**
   * What embedded mode gives @tk/embedded's `createEmbeddedIpfs` (its `EmbeddedIpfsInit`: `repo`,
   * `listen`, `bootstrap`, `dht`); `signal` and `timeout` come from these options.
   */
  embedded?: Record<string, unknown>
  /** Where `TK_MODE` and `IPFS_TK_MODE` are read; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>
}

/** Which mode, and what chose it (for messages). */
export function chooseMode(
  mode: unknown,
  env: Readonly<Record<string, string | undefined>>
): { mode: IpfsMode; chosenBy: string } {
  if (mode != null) {
    if (mode === 'kubo' || mode === 'embedded') return { mode, chosenBy: `mode: '${mode}'` }
    throw new InvalidArgumentError('mode', `expected 'kubo' or 'embedded', got ${JSON.stringify(mode)}`)
  }
  const tkMode = env.TK_MODE?.trim()
  if (tkMode != null && tkMode !== '') {
    const lower = tkMode.toLowerCase()
    if (lower === 'kubo' || lower === 'embedded') return { mode: lower, chosenBy: `TK_MODE=${tkMode}` }
    throw new InvalidArgumentError('TK_MODE', `expected kubo or embedded, got ${JSON.stringify(tkMode)}`)
  }
  const pythonMode = env.IPFS_TK_MODE?.trim()
  if (pythonMode != null && pythonMode !== '') {
    // The Python toolkit's names: HTTP is its client of a separate node (Kubo's RPC), EMBEDDED its in-process node.
    const upper = pythonMode.toUpperCase()
    if (upper === 'HTTP') return { mode: 'kubo', chosenBy: `IPFS_TK_MODE=${pythonMode}` }
    if (upper === 'EMBEDDED') return { mode: 'embedded', chosenBy: `IPFS_TK_MODE=${pythonMode}` }
    throw new InvalidArgumentError(
      'IPFS_TK_MODE',
      `expected HTTP or EMBEDDED, got ${JSON.stringify(pythonMode)}`
    )
  }
  return { mode: 'kubo', chosenBy: 'default' }
}

/**
 * Opens the IPFS API (@tk/interface's `Ipfs`) in the mode the options or the environment choose,
 * so the same code runs on a Kubo daemon or on an embedded node. Kubo: resolves once the daemon
 * answers (else rejects: `NoIpfsNodeError` with backend `auto`, `DaemonUnreachableError` with
 * `http` or `cli`); embedded: once the node has started.
 * @tk/embedded is imported only when embedded mode is chosen; `EmbeddedNotInstalledError` when it
 * is not installed.
 */
export async function openIpfs(options: OpenIpfsOptions = {}): Promise<GroupedIpfs> {
  return await openIpfsFrom(options, EMBEDDED_PACKAGE)
}

/** {@link openIpfs} loading embedded mode from `embeddedPackage` (tests name a package that does not exist). */
export async function openIpfsFrom(options: OpenIpfsOptions, embeddedPackage: string): Promise<GroupedIpfs> {
  const { mode, chosenBy } = chooseMode(options.mode, options.env ?? process.env)
  const { mode: _mode, embedded, env: _env, signal, timeout, ...kuboOptions } = options
  if (mode === 'embedded') {
    const createEmbeddedIpfs = await loadEmbedded(embeddedPackage, chosenBy)
    return await createEmbeddedIpfs({ ...embedded, signal, timeout })
  }
  const ipfs = createIpfs(kuboOptions)
  try {
    // One call proves a daemon answers, so a wrong address fails here rather than at first use.
    await ipfs.myId({ signal, timeout })
  } catch (error) {
    await ipfs.close()
    throw error
  }
  return ipfs
}

type CreateEmbeddedIpfs = (init: Record<string, unknown>) => Promise<GroupedIpfs>

async function loadEmbedded(packageName: string, chosenBy: string): Promise<CreateEmbeddedIpfs> {
  let module: { createEmbeddedIpfs?: unknown }
  try {
    module = (await import(packageName)) as { createEmbeddedIpfs?: unknown }
  } catch (error) {
    // Only the package itself missing; a broken install of it (a dependency missing) is its own error.
    const missing =
      error instanceof Error &&
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
      error.message.includes(`'${packageName}'`)
    if (missing) throw new EmbeddedNotInstalledError(packageName, chosenBy, { cause: error })
    throw error
  }
  if (typeof module.createEmbeddedIpfs !== 'function')
    throw new Error(
      `${packageName} does not export createEmbeddedIpfs; install a version that matches @tk/api`
    )
  return module.createEmbeddedIpfs as CreateEmbeddedIpfs
}
