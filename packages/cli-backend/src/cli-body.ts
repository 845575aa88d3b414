import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { InvalidArgumentError } from '@tk/rpc'
import type { BodyEntry, FileEntry, OptionValue, RequestBody } from '@tk/rpc/transport'

/** How a request body reaches the `ipfs` process. */
export interface BodyPlan {
  /** Positional arguments that stand for the body: `-` (stdin) or paths in the temp dir. */
  args: string[]
  /** Options the body needs (`recursive`, `hidden`, `stdin-name`). */
  options: Record<string, OptionValue>
  /** Bytes to stream into stdin. */
  stdin?: FileEntry['content']
}

async function* toAsync<T>(items: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T> {
  yield* items
}

/** A `/`-separated path inside the body, checked so that nothing is written outside the temp dir. */
function safeRelative(entryPath: string): string {
  const normalized = path.posix.normalize(entryPath.replace(/^\/+/, ''))
  if (normalized === '.' || normalized === '..' || normalized.startsWith('../')) {
    throw new InvalidArgumentError('input', `the path "${entryPath}" leaves the tree being added`)
  }
  return normalized
}

/**
 * Decides how the body goes to the CLI. A single plain file streams through stdin (`-` as the file
 * argument); a tree, for a command that takes one (`add`: directories, several files, nested paths,
 * symlinks, mode or mtime), is written into `makeTempDir()` and added from there with `-r`. The CLI reads files only as
 * positional paths or stdin, and takes them after the string arguments, as every Kubo command does.
 */
export async function planBody(
  /** Whether the command takes a tree (its record's `bodyTree`); otherwise one file. */
  tree: boolean,
  body: RequestBody,
  makeTempDir: () => Promise<string>
): Promise<BodyPlan> {
  const iterator = toAsync(body)
  const first = await iterator.next()
  if (first.done === true) return { args: [], options: {} }
  if (!tree) {
    // The command takes one file: the first one is the body.
    let entry: BodyEntry | undefined = first.value
    while (entry != null && entry.kind !== 'file') {
      const next = await iterator.next()
      entry = next.done === true ? undefined : next.value
    }
    return entry == null
      ? { args: [], options: {} }
      : { args: ['-'], options: {}, stdin: (entry as FileEntry).content }
  }
  const second = await iterator.next()
  const entry = first.value
  if (
    second.done === true &&
    entry.kind === 'file' &&
    !entry.path.includes('/') &&
    entry.mode == null &&
    entry.mtime == null
  ) {
    return {
      args: ['-'],
      options: entry.path === '' ? {} : { 'stdin-name': entry.path },
      stdin: entry.content
    }
  }
  const root = path.join(await makeTempDir(), 'body')
  await fs.mkdir(root)
  const topLevel: string[] = []
  let recursive = false
  const directoryTimes: Array<[string, Date]> = []
  const write = async (item: BodyEntry): Promise<void> => {
    const relative = item.path === '' ? 'file' : safeRelative(item.path)
    const file = path.join(root, ...relative.split('/'))
    const top = relative.split('/')[0] ?? relative
    if (!topLevel.includes(top)) topLevel.push(top)
    if (relative.includes('/')) recursive = true
    await fs.mkdir(path.dirname(file), { recursive: true })
    if (item.kind === 'directory') {
      recursive = true
      await fs.mkdir(file, { recursive: true })
      if (item.mode != null) await fs.chmod(file, item.mode & 0o7777)
      // Set last: writing the content below would change a directory's mtime again.
      if (item.mtime != null) directoryTimes.push([file, item.mtime])
    } else if (item.kind === 'symlink') {
      await fs.symlink(item.target, file)
    } else {
      const content = item.content
      await pipeline(
        content instanceof Uint8Array ? toAsync([content]) : toAsync(content),
        createWriteStream(file)
      )
      if (item.mode != null) await fs.chmod(file, item.mode & 0o7777)
      if (item.mtime != null) await fs.utimes(file, item.mtime, item.mtime)
    }
  }
  await write(entry)
  if (second.done !== true) await write(second.value)
  for await (const item of iterator) await write(item)
  for (const [directory, mtime] of directoryTimes.reverse()) await fs.utimes(directory, mtime, mtime)
  return {
    args: topLevel.map(name => path.join(root, name)),
    // The caller's tree is what it wants added: names starting with `.` included, as over HTTP.
    options: { hidden: true, ...(recursive ? { recursive: true } : {}) }
  }
}
