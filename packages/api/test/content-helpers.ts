import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createKuboClient, type RpcResponse } from '@tk/rpc'
import { createKuboCluster, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll } from 'vitest'
import type { BackendTransport } from '../src/backend.js'
import { createContentFunctions } from '../src/content.js'
import { createIpfs } from '../src/ipfs.js'
import type { BackendName } from '../src/options.js'

export const BACKENDS: Array<[BackendName]> = [['http'], ['cli']]

/** An instance on one testkit node through `backend`. */
export function openApi(node: KuboNode, backend: BackendName) {
  return createIpfs(
    backend === 'http'
      ? { backend, api: node.apiUrl }
      : { backend, binary: node.binary, repoPath: node.repoPath, api: node.apiMultiaddr }
  )
}

export type TestApi = ReturnType<typeof openApi>

/** `count` values of `T`, as a tuple (so that destructuring them needs no `undefined` check). */
type Tuple<T, N extends number, Built extends T[] = []> = Built['length'] extends N
  ? Built
  : Tuple<T, N, [...Built, T]>

/**
 * `count` connected testkit nodes and an instance on each through `backend`, for the tests of the
 * enclosing `describe`: started before them, closed and stopped after them. Read `nodes` and
 * `apis` inside tests, not at `describe` time.
 */
export function useApis<N extends number>(
  count: N,
  backend: BackendName
): { nodes: Tuple<KuboNode, N>; apis: Tuple<TestApi, N> } {
  const suite = { nodes: [] as readonly KuboNode[], apis: [] as TestApi[] }
  let cluster: KuboCluster | undefined
  beforeAll(async () => {
    cluster = await createKuboCluster(count)
    suite.nodes = cluster.nodes
    suite.apis = cluster.nodes.map(node => openApi(node, backend))
  })
  afterAll(async () => {
    await Promise.all(suite.apis.map(api => api.close()))
    await cluster?.stop()
  })
  // Both arrays hold `count` entries once beforeAll has run, which is before any test reads them.
  return suite as unknown as { nodes: Tuple<KuboNode, N>; apis: Tuple<TestApi, N> }
}

/** A and B of a 2-node cluster on `backend`, a temp work dir and a test tree in `<work>/site`. */
export async function openPair(cluster: KuboCluster, backend: BackendName, label: string) {
  const [nodeA, nodeB] = cluster.nodes
  if (nodeA == null || nodeB == null) throw new Error('the cluster has no nodes')
  const work = await fs.mkdtemp(path.join(os.tmpdir(), `tk-api-${label}-${backend}-`))
  const tree = path.join(work, 'site')
  await fs.mkdir(tree)
  await makeTree(tree)
  const a = openApi(nodeA, backend)
  const b = openApi(nodeB, backend)
  return {
    a,
    b,
    work,
    tree,
    close: async (): Promise<void> => {
      await Promise.all([a.close(), b.close()])
      await fs.rm(work, { recursive: true, force: true })
    }
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return new Uint8Array(Buffer.concat(parts))
}

export type TreeEntry =
  | { path: string; kind: 'directory' }
  | { path: string; kind: 'file'; size: number; sha256: string }
  | { path: string; kind: 'symlink'; target: string }

/** Every entry below `root` (or `root` itself when it is a file), sorted, with each file's sha256. */
export async function snapshot(root: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = []
  const visit = async (absolute: string, relative: string): Promise<void> => {
    const stat = await fs.lstat(absolute)
    if (stat.isSymbolicLink()) {
      entries.push({ path: relative, kind: 'symlink', target: await fs.readlink(absolute) })
    } else if (stat.isDirectory()) {
      entries.push({ path: relative, kind: 'directory' })
      for (const name of (await fs.readdir(absolute)).sort()) {
        await visit(path.join(absolute, name), relative === '' ? name : `${relative}/${name}`)
      }
    } else {
      const bytes = await fs.readFile(absolute)
      entries.push({ path: relative, kind: 'file', size: bytes.byteLength, sha256: sha256(bytes) })
    }
  }
  await visit(root, '')
  return entries
}

/** A name of 120 characters: longer than a USTAR name field, so Kubo's archive carries it in a PAX header. */
export const LONG_NAME = `${'long-name-'.repeat(11)}1234567890.txt`.slice(0, 120)

/**
 * A directory with nested folders, binary files spanning several blocks, an empty folder, a
 * non-ASCII name, a 120-character name, a relative symlink and a hidden file. (No empty file: see
 * the test of empty files for why.)
 */
export async function makeTree(root: string): Promise<void> {
  await fs.mkdir(path.join(root, 'nested', 'deeper'), { recursive: true })
  await fs.mkdir(path.join(root, 'nested', 'empty-folder'))
  await fs.writeFile(path.join(root, 'hello.txt'), `hello world ${randomBytes(4).toString('hex')}\n`)
  await fs.writeFile(path.join(root, 'binary.bin'), randomBytes(700 * 1024))
  await fs.writeFile(path.join(root, 'nested', 'deeper', 'deep.bin'), randomBytes(70 * 1024))
  await fs.writeFile(path.join(root, 'nested', 'deeper', 'ünïcødé näme.txt'), 'unicode')
  await fs.writeFile(path.join(root, 'nested', LONG_NAME), randomBytes(1000))
  await fs.symlink('nested/deeper/deep.bin', path.join(root, 'link-to-deep'))
  await fs.writeFile(path.join(root, '.hidden'), 'not published unless asked')
}

/** Entries of `directory` whose names contain `.part-`: leftovers of a download. */
export async function partFiles(directory: string): Promise<string[]> {
  return (await fs.readdir(directory)).filter(name => name.includes('.part-'))
}

export interface CraftedEntry {
  name: string
  /** TAR type flag: `0` file (default), `5` directory, `2` symlink, `x` PAX header. */
  type?: string
  content?: Uint8Array | string
  linkName?: string
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`
}

/** One USTAR entry (header and padded content), for archives Kubo would never write. */
export function tarEntry(entry: CraftedEntry): Buffer {
  const content =
    typeof entry.content === 'string'
      ? Buffer.from(entry.content)
      : Buffer.from(entry.content ?? new Uint8Array(0))
  const header = Buffer.alloc(512)
  header.write(entry.name, 0, 100, 'utf8')
  header.write(octal(entry.type === '5' ? 0o755 : 0o644, 8), 100, 'ascii')
  header.write(octal(0, 8), 108, 'ascii')
  header.write(octal(0, 8), 116, 'ascii')
  header.write(octal(content.byteLength, 12), 124, 'ascii')
  header.write(octal(1_700_000_000, 12), 136, 'ascii')
  header.write(' '.repeat(8), 148, 'ascii')
  header.write(entry.type ?? '0', 156, 'ascii')
  header.write(entry.linkName ?? '', 157, 100, 'utf8')
  header.write('ustar\u000000', 257, 'ascii')
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii')
  return Buffer.concat([header, content, Buffer.alloc((512 - (content.byteLength % 512)) % 512)])
}

/** A PAX header entry setting `path` for the entry after it. */
export function paxPath(name: string): Buffer {
  const record = (length: number): string => `${length} path=${name}\n`
  let length = record(0).length
  while (record(length).length !== length) length = record(length).length
  return tarEntry({ name: 'PaxHeader', type: 'x', content: record(length) })
}

export function tarArchive(entries: readonly Buffer[], options: { end?: boolean } = {}): Uint8Array {
  return new Uint8Array(Buffer.concat([...entries, ...(options.end === false ? [] : [Buffer.alloc(1024)])]))
}

/**
 * The content functions on a transport that answers every request with `archive`: the only way to
 * hand `download` a hostile TAR, which Kubo itself never writes.
 */
export function craftedArchiveApi(archive: Uint8Array) {
  const transport = {
    target: 'a crafted archive',
    request: async (): Promise<RpcResponse> => ({
      json: async () => {
        throw new Error('not used')
      },
      ndjson: () => {
        throw new Error('not used')
      },
      bytes: async function* () {
        // In two pieces, so that headers and content straddle chunk boundaries.
        yield archive.subarray(0, 700)
        yield archive.subarray(700)
      },
      text: async () => '',
      drain: async () => {}
    }),
    close: async () => {}
  } as unknown as BackendTransport
  const client = createKuboClient({ transport })
  return createContentFunctions({ client, transport, options: {} })
}
