import { type ParseArgsConfig, parseArgs } from 'node:util'
import { DEFAULT_FILE_SIZE_MIB, DEFAULT_LISTENER_NAME, MAX_FILE_SIZE_MIB } from './constants.js'
import { errorMessage } from './format.js'

/** Options every command takes. */
interface CommonOptions {
  /** `--json`: one JSON object per line instead of text. */
  json: boolean
}

interface NodeOptions extends CommonOptions {
  /** `--api`: the Kubo RPC API to use; undefined means the usual defaults (IPFS_API, the repo's api file, port 5001). */
  api: string | undefined
}

/** Which local nodes the tour starts: `--embedded`, `--kubo` or `--mixed`; undefined when none was given. */
export type LocalMode = 'embedded' | 'kubo' | 'mixed'

export interface DemoCommand extends NodeOptions {
  command: 'demo'
  mode: LocalMode | undefined
  /** Size of the file sent in the transfer step (bytes). */
  fileSize: number
}

export interface ReceiveCommand extends NodeOptions {
  command: 'receive'
  listenerName: string
  /** Where received files go. */
  directory: string
  /** Exit after this many transmissions; undefined waits until Ctrl-C. */
  count: number | undefined
}

export interface SendCommand extends NodeOptions {
  command: 'send'
  listenerName: string
  /** A file path, or the text to send. */
  what: string
  /** A peer id or a contact's name. */
  to: string
  /** `--text`: send `what` as text even if a file of that name exists. */
  forceText: boolean
}

export interface ChatCommand extends NodeOptions {
  command: 'chat'
  topic: string
}

export type ContactsCommand = CommonOptions & { command: 'contacts' } & (
    | { action: 'add'; peerId: string; contactName: string; addresses: string[] }
    | { action: 'list' }
    | { action: 'remove'; contact: string }
  )

/** `--help` anywhere: print `text` and exit 0. */
export interface HelpCommand {
  command: 'help'
  text: string
}

export type Command = DemoCommand | ReceiveCommand | SendCommand | ChatCommand | ContactsCommand | HelpCommand

/** The command line could not be understood; `help` is the usage of the command concerned. */
export class UsageError extends Error {
  static override readonly name = 'UsageError'
  override readonly name = 'UsageError'
  readonly help: string

  constructor(message: string, help: string) {
    super(message)
    this.help = help
  }
}

/** The options every command that talks to Kubo takes, under its own `Options:` heading. */
const COMMON = `  --api <multiaddr>  your Kubo's RPC API, e.g. /ip4/127.0.0.1/tcp/5001 (default: IPFS_API,
                     then the api file of IPFS_PATH or ~/.ipfs, then /ip4/127.0.0.1/tcp/5001)
  --json             one JSON object per line, for scripts
  -h, --help         this help`

export const HELP = {
  demo: `tk-demo: the tk toolkit at work, in one command.

Usage:
  tk-demo                 the whole tour on two embedded nodes in this process (needs nothing
                          installed; no network besides this machine's loopback)
  tk-demo --kubo          the tour on two fresh local Kubo daemons (Kubo, or Go to build it once)
  tk-demo --mixed         one Kubo daemon (A) and one embedded node (B): the two interoperate
  tk-demo --api <addr>    the steps that need one node, on your own Kubo daemon
  tk-demo <command> --help

Commands, to use tk between two terminals or two machines:
  receive   wait for text and files from peers
  send      send a file or text to a peer, with a progress bar
  chat      chat with everyone on a pubsub topic
  contacts  the peers you know by name (add, list, remove)

Options:
  --embedded         two embedded nodes (the default; also when IPFS_API is set)
  --kubo             two local Kubo daemons, stopped at the end
  --mixed            a local Kubo daemon and an embedded node
  --size <MiB>       size of the file sent from node A to node B (default ${DEFAULT_FILE_SIZE_MIB})
${COMMON}

Without --embedded, --kubo or --mixed, IPFS_API set means --api $IPFS_API. The tour's exit code
is 0 only if every step worked.`,

  receive: `tk-demo receive: wait for text and files from peers, and print them.

Usage:
  tk-demo receive [--name <name>] [--dir <folder>] [--count <n>]

Prints this node's peer id and addresses, then each text and file that arrives. On the other
side: tk-demo send <file|text> <this peer id> --name <name>. Ctrl-C stops it.

Options:
  --name <name>      the listener's name; the sender must use the same (default ${DEFAULT_LISTENER_NAME}).
                     Text arrives on /x/<name>, files on /x/<name>-files.
  --dir <folder>     where files are saved, created if missing (default: the current folder)
  --count <n>        exit after n texts or files
${COMMON}`,

  send: `tk-demo send: send a file or text to a peer that runs tk-demo receive.

Usage:
  tk-demo send <file|text> <peerId|contact> [--name <name>] [--text]

A path to an existing file is sent as a file, with a progress bar; anything else as text. The
receiver checks the SHA-256 of what arrived, and send exits 0 only once it has.

Options:
  --name <name>      the receiver's listener name (default ${DEFAULT_LISTENER_NAME})
  --text             send the argument as text even if a file of that name exists
${COMMON}`,

  chat: `tk-demo chat: chat with everyone subscribed to a pubsub topic.

Usage:
  tk-demo chat <topic>

Each line you type is published; messages from others are printed as they arrive. Ctrl-D or
Ctrl-C leaves. With input from a pipe, each line is sent once someone else is on the topic.
Kubo needs pubsub on: ipfs config --json Pubsub.Enabled true (then restart the daemon).

Options:
${COMMON}`,

  contacts: `tk-demo contacts: the peers you know by name, kept in a file shared with other tk programs.

Usage:
  tk-demo contacts add <peerId> <name> [--address <multiaddr>]...
  tk-demo contacts list
  tk-demo contacts remove <name|peerId>

A contact's name works wherever tk-demo takes a peer id (send <file> alice). The file is
TK_CONTACTS when set, else <user data folder>/tk/contacts.json.

Options:
  --address <multiaddr>  where the peer can be reached, e.g. /ip4/192.0.2.7/tcp/4001 (repeatable)
  --json                 one JSON object per line, for scripts
  -h, --help             this help`
} as const

type CommandName = keyof typeof HELP

const NODE_OPTIONS = {
  api: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false }
} as const satisfies ParseArgsConfig['options']

const OPTIONS = {
  demo: {
    ...NODE_OPTIONS,
    size: { type: 'string' },
    embedded: { type: 'boolean', default: false },
    kubo: { type: 'boolean', default: false },
    mixed: { type: 'boolean', default: false }
  },
  receive: {
    ...NODE_OPTIONS,
    name: { type: 'string', default: DEFAULT_LISTENER_NAME },
    dir: { type: 'string', default: '.' },
    count: { type: 'string' }
  },
  send: {
    ...NODE_OPTIONS,
    name: { type: 'string', default: DEFAULT_LISTENER_NAME },
    text: { type: 'boolean', default: false }
  },
  chat: NODE_OPTIONS,
  contacts: {
    json: NODE_OPTIONS.json,
    help: NODE_OPTIONS.help,
    address: { type: 'string', multiple: true, default: [] }
  }
} as const satisfies Record<CommandName, ParseArgsConfig['options']>

function isCommandName(value: string): value is Exclude<CommandName, 'demo'> {
  return value !== 'demo' && Object.hasOwn(HELP, value)
}

/**
 * Where the command word is: the first argument that is not an option or an option's value, so
 * that `tk-demo --json send …` works as well as `tk-demo send --json …`.
 */
function findCommand(argv: readonly string[]): { name: CommandName; rest: string[] } {
  const everyOption = Object.assign({}, ...Object.values(OPTIONS)) as ParseArgsConfig['options']
  const { tokens } = parseArgs({
    args: [...argv],
    options: everyOption,
    strict: false,
    allowPositionals: true,
    tokens: true
  })
  const first = tokens.find(token => token.kind === 'positional')
  if (first == null || !isCommandName(first.value)) return { name: 'demo', rest: [...argv] }
  return { name: first.value, rest: argv.filter((_argument, index) => index !== first.index) }
}

function positiveInteger(value: string, option: string, help: string, max = Number.MAX_SAFE_INTEGER): number {
  const number = Number(value)
  if (!Number.isInteger(number) || number < 1 || number > max) {
    throw new UsageError(`${option} takes a whole number from 1 to ${max}, got "${value}"`, help)
  }
  return number
}

function expectPositionals(
  positionals: readonly string[],
  names: readonly string[],
  help: string
): readonly string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`Missing ${names.slice(positionals.length).join(' and ')}`, help)
  }
  if (positionals.length > names.length) {
    const extra = positionals.slice(names.length).join(' ')
    throw new UsageError(`Unexpected argument "${extra}" (quote text that has spaces)`, help)
  }
  return positionals
}

/** What parseArgs found, read through the checks below rather than trusted by type. */
type ParsedValues = Record<string, unknown>

function text(values: ParsedValues, option: string): string | undefined {
  const value = values[option]
  return typeof value === 'string' ? value : undefined
}

/** Turns `process.argv.slice(2)` into a command; throws {@link UsageError} with the command's help. */
export function parseCommandLine(argv: readonly string[]): Command {
  const { name, rest } = findCommand(argv)
  const help = HELP[name]
  let values: ParsedValues
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: rest,
      options: OPTIONS[name],
      allowPositionals: true,
      strict: true
    }))
  } catch (error) {
    // parseArgs names the problem ("Unknown option '--foo'"); its advice on `--` is for other programs.
    const message = errorMessage(error).replace(/\. To specify a positional argument[\s\S]*$/, '')
    throw new UsageError(message, help)
  }
  if (values.help === true) return { command: 'help', text: help }
  const json = values.json === true
  const api = text(values, 'api')
  const listenerName = text(values, 'name') ?? DEFAULT_LISTENER_NAME

  switch (name) {
    case 'demo': {
      if (positionals.length > 0) {
        throw new UsageError(
          `Unknown command "${positionals[0]}"; the commands are receive, send, chat and contacts`,
          help
        )
      }
      const size = text(values, 'size')
      const mebibytes =
        size == null ? DEFAULT_FILE_SIZE_MIB : positiveInteger(size, '--size', help, MAX_FILE_SIZE_MIB)
      const modes = (['embedded', 'kubo', 'mixed'] as const).filter(mode => values[mode] === true)
      if (modes.length > 1) {
        throw new UsageError(`Choose one: ${modes.map(mode => `--${mode}`).join(' or ')}`, help)
      }
      const [mode] = modes
      if (mode != null && api != null) {
        throw new UsageError(
          `--api runs the tour on your daemon, --${mode} on nodes it starts: choose one`,
          help
        )
      }
      return { command: 'demo', api, mode, json, fileSize: mebibytes * 1024 * 1024 }
    }
    case 'receive': {
      expectPositionals(positionals, [], help)
      const count = text(values, 'count')
      return {
        command: 'receive',
        api,
        json,
        listenerName,
        directory: text(values, 'dir') ?? '.',
        count: count == null ? undefined : positiveInteger(count, '--count', help)
      }
    }
    case 'send': {
      const [what = '', to = ''] = expectPositionals(positionals, ['<file|text>', '<peerId|contact>'], help)
      return { command: 'send', api, json, listenerName, what, to, forceText: values.text === true }
    }
    case 'chat': {
      const [topic = ''] = expectPositionals(positionals, ['<topic>'], help)
      return { command: 'chat', api, json, topic }
    }
    case 'contacts': {
      const addresses = Array.isArray(values.address) ? values.address.map(String) : []
      return parseContacts(positionals, addresses, json, help)
    }
  }
}

function parseContacts(
  positionals: readonly string[],
  addresses: string[],
  json: boolean,
  help: string
): ContactsCommand {
  const [action, ...rest] = positionals
  if (action !== 'add' && addresses.length > 0) {
    throw new UsageError('--address goes with contacts add', help)
  }
  switch (action) {
    case 'add': {
      const [peerId = '', contactName = ''] = expectPositionals(rest, ['<peerId>', '<name>'], help)
      return { command: 'contacts', json, action, peerId, contactName, addresses }
    }
    case 'list':
      expectPositionals(rest, [], help)
      return { command: 'contacts', json, action }
    case 'remove': {
      const [contact = ''] = expectPositionals(rest, ['<name|peerId>'], help)
      return { command: 'contacts', json, action, contact }
    }
    default:
      throw new UsageError(
        action == null
          ? 'Say what to do: add, list or remove'
          : `Unknown action "${action}"; use add, list or remove`,
        help
      )
  }
}
