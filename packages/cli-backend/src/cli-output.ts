/**
 * Some Kubo commands ignore `--enc=json` on the CLI: their CLI-side "PostRun" prints text. These
 * parsers read what they print into the values the command produces (the objects Kubo's JSON
 * holds), which the typed client reads as it reads any transport's output.
 */

import { type FilestoreEntryWire, splitLines } from '@tk/rpc/transport'

/** What a parser may need besides stdout: the request's arguments and, once stdout has ended, stderr. */
export interface OutputContext {
  args: readonly string[]
  options: Readonly<Record<string, unknown>>
  /** The process's stderr lines, without the final `Error: …` line; complete once stdout has ended. */
  stderrLines: () => string[]
}

/** `added <cid> <name>` (or a bare CID with `--quiet`) → `{"Name","Hash"}` lines, as `add` streams over HTTP. */
export async function* addOutput(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  for await (const line of splitLines(chunks)) {
    const added = /^added (\S+) ?(.*)$/.exec(line)
    const bare = /^\s*(\S+)\s*$/.exec(line)
    const hash = added?.[1] ?? bare?.[1]
    if (hash == null) continue
    const name = added == null ? hash : (added[2] ?? '')
    yield { Name: name, Hash: hash }
  }
}

interface LsLinkJson {
  Name: string
  Hash: string
  Size: number
  Type: number
}

/**
 * `ls`'s table (`<cid> <size> <name>`, directories with `-` and a trailing `/`, a `<path>:` line
 * before each object when several are listed) → `{"Objects":[{Hash, Links}]}`. Run with `--size`
 * and without `--headers`/`--long`.
 */
export async function* lsOutput(
  chunks: AsyncIterable<Uint8Array>,
  paths: readonly string[]
): AsyncGenerator<unknown> {
  const objects: Array<{ Hash: string; Links: LsLinkJson[] }> = []
  let current: { Hash: string; Links: LsLinkJson[] } | undefined
  for await (const line of splitLines(chunks)) {
    if (line.trim() === '') continue
    const link = /^(\S+)\s+(\S+)\s(.*)$/.exec(line)
    if (link == null) {
      if (line.endsWith(':')) {
        current = { Hash: line.slice(0, -1), Links: [] }
        objects.push(current)
      }
      continue
    }
    if (current == null) {
      current = { Hash: paths[0] ?? '', Links: [] }
      objects.push(current)
    }
    const name = (link[3] ?? '').replace(/^ +/, '')
    const directory = name.endsWith('/')
    current.Links.push({
      Name: directory ? name.slice(0, -1) : name,
      Hash: link[1] ?? '',
      Size: link[2] === '-' ? 0 : Number(link[2]),
      // UnixFS types: 1 directory, 2 file; the table does not tell raw leaves or symlinks apart.
      Type: directory ? 1 : 2
    })
  }
  if (objects.length === 0) objects.push({ Hash: paths[0] ?? '', Links: [] })
  yield { Objects: objects }
}

/**
 * Puts the results a command reports per argument, some on stdout and some on stderr, back in the
 * order of the arguments (the order Kubo handles them in); `matches` says whether a result is for an
 * argument. A result that matches no argument in turn (e.g. a path argument) keeps its stream order.
 */
function inArgumentOrder<T>(
  args: readonly string[],
  stdout: T[],
  stderr: T[],
  matches: (result: T, arg: string) => boolean
): T[] {
  const ordered: T[] = []
  let out = 0
  let err = 0
  for (const arg of args) {
    const fromOut = stdout[out]
    const fromErr = stderr[err]
    if (fromErr != null && matches(fromErr, arg)) {
      ordered.push(fromErr)
      err++
    } else if (fromOut != null && matches(fromOut, arg)) {
      ordered.push(fromOut)
      out++
    }
  }
  return [...ordered, ...stdout.slice(out), ...stderr.slice(err)]
}

/**
 * `block rm`: `removed <cid>` lines on stdout and `cannot remove <cid>: <error>` lines on stderr (the
 * exit status then says "some blocks not removed") → `{"Hash"[,"Error"]}` lines in argument order.
 */
export async function* blockRmOutput(
  chunks: AsyncIterable<Uint8Array>,
  context: OutputContext
): AsyncGenerator<unknown> {
  const removed: Array<{ Hash: string; Error?: string }> = []
  for await (const line of splitLines(chunks)) {
    const match = /^removed (\S+)$/.exec(line)
    if (match?.[1] != null) removed.push({ Hash: match[1] })
  }
  const failed: Array<{ Hash: string; Error?: string }> = []
  for (const line of context.stderrLines()) {
    const match = /^cannot remove (\S+): (.*)$/.exec(line)
    if (match?.[1] != null) failed.push({ Hash: match[1], Error: match[2] ?? '' })
  }
  const isFor = (result: { Hash: string }, arg: string): boolean =>
    arg === result.Hash || arg.endsWith(`/${result.Hash}`)
  yield* inArgumentOrder(context.args, removed, failed, isFor)
}

/**
 * `cid format` / `cid base32`: one formatted CID per line on stdout, `<cid>: <error>` lines on stderr
 * for the ones that failed → `{"CidStr","Formatted","ErrorMsg"}` lines, one per argument, in order.
 */
export async function* cidFormatOutput(
  chunks: AsyncIterable<Uint8Array>,
  context: OutputContext
): AsyncGenerator<unknown> {
  const formatted: string[] = []
  for await (const line of splitLines(chunks)) formatted.push(line)
  const failures = context.stderrLines()
  let out = 0
  let err = 0
  for (const arg of context.args) {
    const failure = failures[err]
    if (failure?.startsWith(`${arg}: `) === true) {
      err++
      yield { CidStr: arg, Formatted: '', ErrorMsg: failure.slice(arg.length + 2) }
    } else {
      yield { CidStr: arg, Formatted: formatted[out++] ?? '', ErrorMsg: '' }
    }
  }
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB']

/** go-humanize's `Bytes` text (`0 B`, `999 B`, `1.2 kB`, `45 MB`) → bytes, as exact as the text is. */
export function parseHumanBytes(text: string): number {
  const match = /^\s*([\d.]+)\s*([kMGTPE]?B)\s*$/.exec(text)
  if (match == null) return Number.NaN
  return Math.round(Number(match[1]) * 1000 ** BYTE_UNITS.indexOf(match[2] ?? 'B'))
}

/**
 * `stats bw`: `TotalIn: 1.2 kB` … lines, or with `--poll` a header and one `\r`-ended row per
 * reading (`<out> <in> <rate out>/s <rate in>/s`) → `{"TotalIn","TotalOut","RateIn","RateOut"}`
 * values. The CLI rounds to go-humanize's units, so values of 1000 bytes and more are approximate.
 */
export async function* bandwidthOutput(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  const single: Record<string, number> = {}
  let buffered = ''
  const row =
    /^\s*(\d[\d.]* [kMGTPE]?B)\s+(\d[\d.]* [kMGTPE]?B)\s+(\d[\d.]* [kMGTPE]?B)\/s\s+(\d[\d.]* [kMGTPE]?B)\/s/
  for await (const chunk of chunks) {
    buffered += decoder.decode(chunk, { stream: true })
    const records = buffered.split(/[\r\n]/)
    buffered = records.pop() ?? ''
    for (const record of records) {
      const polled = row.exec(record)
      if (polled != null) {
        yield {
          TotalIn: parseHumanBytes(polled[2] ?? ''),
          TotalOut: parseHumanBytes(polled[1] ?? ''),
          RateIn: parseHumanBytes(polled[4] ?? ''),
          RateOut: parseHumanBytes(polled[3] ?? '')
        }
        continue
      }
      const field = /^(TotalIn|TotalOut|RateIn|RateOut): (.*?)(\/s)?$/.exec(record)
      if (field?.[1] != null) single[field[1]] = parseHumanBytes(field[2] ?? '')
    }
  }
  if (Object.keys(single).length > 0) {
    yield {
      TotalIn: single.TotalIn ?? 0,
      TotalOut: single.TotalOut ?? 0,
      RateIn: single.RateIn ?? 0,
      RateOut: single.RateOut ?? 0
    }
  }
}

/** Kubo's filestore status words (`ipfs filestore verify --help`) and their codes. */
const FILESTORE_STATUS: Readonly<Record<string, number>> = {
  ok: 0,
  error: 10,
  'no-file': 11,
  changed: 12,
  ERROR: 20,
  missing: 30
}

/** boxo's `ListRes.FormatLong`: `<cid> <size> <path> <offset>`, a bare `<cid>` without a file, or `<corrupt key>`. */
function parseFilestoreEntry(text: string, status: number, errorMessage: string): FilestoreEntryWire {
  const full = /^(\S+)\s+(\d+) (.*) (\d+)$/.exec(text)
  if (full != null) {
    return {
      Status: status,
      ErrorMsg: errorMessage,
      Key: { '/': full[1] ?? '' },
      FilePath: full[3] ?? '',
      Offset: Number(full[4]),
      Size: Number(full[2])
    }
  }
  const key = text.trim()
  return {
    Status: status,
    ErrorMsg: errorMessage,
    Key: key === '<corrupt key>' ? null : { '/': key },
    FilePath: '',
    Offset: 0,
    Size: 0
  }
}

/**
 * `filestore ls`: one `<cid> <size> <path> <offset>` line per block → the HTTP API's ListRes lines
 * (status ok). Entries with an error are only on stderr, without their CID, and make the call fail.
 */
export async function* filestoreLsOutput(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  for await (const line of splitLines(chunks)) {
    if (line.trim() !== '') yield parseFilestoreEntry(line, 0, '')
  }
}

/**
 * `filestore verify`: `<status> <cid> <size> <path> <offset> [keep|remove]` lines → ListRes lines.
 * The CLI prints the error text only for `ERROR` entries (on stderr, in order); the other statuses
 * come without their `ErrorMsg`.
 */
export async function* filestoreVerifyOutput(
  chunks: AsyncIterable<Uint8Array>,
  context: OutputContext
): AsyncGenerator<unknown> {
  const removing = context.options['remove-bad-blocks'] === true
  const entries: FilestoreEntryWire[] = []
  for await (const line of splitLines(chunks)) {
    const match = /^(\S+)\s+(.*)$/.exec(line)
    if (match == null) continue
    const status = FILESTORE_STATUS[match[1] ?? ''] ?? -1
    const rest = removing ? (match[2] ?? '').replace(/ (keep|remove)$/, '') : (match[2] ?? '')
    entries.push(parseFilestoreEntry(rest, status, ''))
  }
  const internalErrors = context.stderrLines()
  let next = 0
  for (const entry of entries) {
    if (entry.Status === FILESTORE_STATUS.ERROR) entry.ErrorMsg = internalErrors[next++] ?? ''
    yield entry
  }
}

/** Commands only the `ipfs` executable has: it runs them itself, and the daemon does not list them. */
const EXECUTABLE_ONLY_COMMANDS = new Set(['daemon', 'init'])

/**
 * `commands`: the CLI answers it itself (Kubo marks it as not using the repo), from the executable's
 * command tree, which has `daemon` and `init` on top of the daemon's; they are left out.
 */
export async function* commandsOutput(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of chunks) text += decoder.decode(chunk, { stream: true })
  text += decoder.decode()
  if (text.trim() === '') return
  const tree = JSON.parse(text) as { Subcommands?: Array<{ Name: string }> | null }
  if (tree.Subcommands != null) {
    tree.Subcommands = tree.Subcommands.filter(command => !EXECUTABLE_ONLY_COMMANDS.has(command.Name))
  }
  yield tree
}
