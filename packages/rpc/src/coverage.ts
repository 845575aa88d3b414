import { kebabCase } from './options.js'

/**
 * Commands in Kubo's tree (`/api/v0/commands`) that cannot be called over HTTP, with why. The
 * coverage check counts every other command; a test checks this list against the pinned Kubo.
 */
export const NOT_OVER_HTTP: Readonly<Record<string, 'parent' | 'cli-only'>> = {
  // Parents without a command of their own: HTTP answers 200 with an empty body.
  bitswap: 'parent',
  block: 'parent',
  cid: 'parent',
  dag: 'parent',
  dht: 'parent',
  diag: 'parent',
  'diag/datastore': 'parent',
  filestore: 'parent',
  files: 'parent',
  key: 'parent',
  log: 'parent',
  multibase: 'parent',
  name: 'parent',
  'name/pubsub': 'parent',
  object: 'parent',
  'object/patch': 'parent',
  p2p: 'parent',
  'p2p/stream': 'parent',
  pin: 'parent',
  'pin/remote': 'parent',
  'pin/remote/service': 'parent',
  provide: 'parent',
  pubsub: 'parent',
  repo: 'parent',
  routing: 'parent',
  stats: 'parent',
  swarm: 'parent',
  'swarm/peering': 'parent',
  'config/profile': 'parent',
  // Marked NoRemote in Kubo: only the `ipfs` CLI runs them (HTTP answers 404). @tk/cli-backend
  // offers `key export` and `key rotate`; the rest are interactive (`config edit`), shell setup
  // (`completion`), act on a stopped repo (`diag datastore`, `files chroot`, `repo migrate`) or
  // replace the binary (`update`), and reach through `createKuboClient({ transport: cliTransport() }).request(…)`.
  'commands/completion': 'cli-only',
  'commands/completion/bash': 'cli-only',
  'commands/completion/fish': 'cli-only',
  'commands/completion/zsh': 'cli-only',
  'config/edit': 'cli-only',
  'diag/datastore/count': 'cli-only',
  'diag/datastore/get': 'cli-only',
  'diag/datastore/put': 'cli-only',
  'files/chroot': 'cli-only',
  'key/export': 'cli-only',
  'key/rotate': 'cli-only',
  'repo/migrate': 'cli-only',
  update: 'cli-only',
  'update/check': 'cli-only',
  'update/clean': 'cli-only',
  'update/install': 'cli-only',
  'update/revert': 'cli-only',
  'update/versions': 'cli-only'
}

/** Client members that are not Kubo commands. */
const NOT_COMMANDS = new Set(['request', 'target', 'transport', 'close'])

/** Methods that reach a command under another name (`addAll` is `add` yielding every entry). */
const ALIASES: Readonly<Record<string, string>> = {
  addAll: 'add',
  addPath: 'add',
  addPathAll: 'add'
}

/**
 * The command paths a client implements, read off its shape: `client.swarm.addrs.listen` is
 * `swarm/addrs/listen`, camelCase words become kebab-case (`diag.cmds.setTime` is `diag/cmds/set-time`).
 */
export function implementedCommands(client: object): Set<string> {
  const found = new Set<string>()
  const visit = (value: unknown, path: string[]): void => {
    if (typeof value === 'function' && path.length > 0) found.add(path.join('/'))
    if ((typeof value !== 'object' && typeof value !== 'function') || value == null) return
    for (const [key, child] of Object.entries(value)) {
      if (path.length === 0 && NOT_COMMANDS.has(key)) continue
      const word = path.length === 0 && ALIASES[key] != null ? (ALIASES[key] ?? key) : kebabCase(key)
      visit(child, [...path, word])
    }
  }
  visit(client, [])
  return found
}

export interface CommandTree {
  Name: string
  Subcommands?: CommandTree[] | null
}

/** Every command path in Kubo's `/api/v0/commands` tree. */
export function commandPaths(tree: CommandTree): string[] {
  const paths: string[] = []
  const walk = (node: CommandTree, prefix: string): void => {
    for (const child of node.Subcommands ?? []) {
      const path = prefix === '' ? child.Name : `${prefix}/${child.Name}`
      paths.push(path)
      walk(child, path)
    }
  }
  walk(tree, '')
  return paths.sort()
}

export interface CoverageReport {
  /** HTTP commands of the daemon the client has a method for. */
  covered: string[]
  /** HTTP commands of the daemon the client lacks. */
  missing: string[]
  /** How many HTTP commands the daemon has. */
  total: number
}

export function coverage(client: object, tree: CommandTree): CoverageReport {
  const implemented = implementedCommands(client)
  const http = commandPaths(tree).filter(path => NOT_OVER_HTTP[path] == null)
  return {
    covered: http.filter(path => implemented.has(path)),
    missing: http.filter(path => !implemented.has(path)),
    total: http.length
  }
}
