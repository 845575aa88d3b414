/**
 * Some Kubo commands ignore `--enc=json` on the CLI: their CLI-side "PostRun" prints text or writes
 * files. These adapters turn what they print back into the JSON the HTTP API answers with, so the
 * typed client reads both transports alike.
 */

const encoder = new TextEncoder()

/** How the process's output is turned into the command's HTTP-shaped output. */
export type OutputKind = 'stdout' | 'add' | 'ls' | 'file'

async function* lines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of chunks) {
    buffered += decoder.decode(chunk, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline !== -1) {
      yield buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      newline = buffered.indexOf('\n')
    }
  }
  buffered += decoder.decode()
  if (buffered !== '') yield buffered
}

/** `added <cid> <name>` (or a bare CID with `--quiet`) → `{"Name","Hash"}` lines, as `add` streams over HTTP. */
export async function* addOutput(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const line of lines(chunks)) {
    const added = /^added (\S+) ?(.*)$/.exec(line)
    const bare = /^\s*(\S+)\s*$/.exec(line)
    const hash = added?.[1] ?? bare?.[1]
    if (hash == null) continue
    const name = added == null ? hash : (added[2] ?? '')
    yield encoder.encode(`${JSON.stringify({ Name: name, Hash: hash })}\n`)
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
): AsyncGenerator<Uint8Array> {
  const objects: Array<{ Hash: string; Links: LsLinkJson[] }> = []
  let current: { Hash: string; Links: LsLinkJson[] } | undefined
  for await (const line of lines(chunks)) {
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
  yield encoder.encode(JSON.stringify({ Objects: objects }))
}
