import { gunzipSync } from 'node:zlib'
import { createKuboClient, type KuboClient } from '@tk/rpc'
import { createKuboNode, findKuboBinary, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKuboCliClient } from '../src/index.js'
import { all, cliClientOf, collect, text } from './helpers.js'

/**
 * The parity sweep: one node, one client over HTTP and one through the `ipfs` CLI, and for each
 * command the same calls through both, compared for equality. Each run gets a tag (`viaHttp`,
 * `viaCli`) to name what it creates, so both can change state on one node; results are compared
 * with the tag replaced by `TAG`. Every other normalisation says why in a comment; the differences
 * that remain are in the README's "Limits".
 */

type Tag = 'viaHttp' | 'viaCli'

/** A call's outcome: its value, or the error as what callers look at. */
type Outcome =
  | { value: unknown }
  | { error: { name: string; kuboMessage?: string; code?: number; status?: number } }

interface ParityCase {
  /** The Kubo commands it covers (request paths, e.g. `files/mkdir`). */
  commands: readonly string[]
  /** What the test is called, when not its commands. */
  title?: string
  /** Runs through one client; what it creates is named with `tag`. */
  run: (client: KuboClient, tag: Tag) => Promise<unknown>
  /** What must be equal, when not the whole result. */
  normalise?: (value: unknown) => unknown
  /** What the result over HTTP must hold, so that two equal empty answers do not pass. */
  check?: (value: unknown) => void
}

/** A CID of bytes nobody has added. */
const MISSING = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await run() }
  } catch (caught) {
    const error = caught as Error & { kuboMessage?: string; code?: number; status?: number }
    return {
      error: { name: error.name, kuboMessage: error.kuboMessage, code: error.code, status: error.status }
    }
  }
}

/** JSON's view of a value (Dates as strings, bytes as base64) with the tag replaced. */
function untagged(value: unknown, tag: Tag): unknown {
  const json = JSON.stringify(value, (_, item: unknown) =>
    item instanceof Uint8Array ? { bytes: Buffer.from(item).toString('base64') } : item
  )
  return json === undefined ? undefined : JSON.parse(json.replaceAll(tag, 'TAG'))
}

/** The keys of a value, recursively, with leaves as their type: for answers whose values vary by the moment. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])]
  if (value instanceof Date) return 'date'
  if (value != null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, shape(item)])
    )
  }
  return typeof value
}

/** A command tree with every level's subcommands by name. */
function sortedTree(value: unknown): unknown {
  const command = value as { name: string; subcommands: unknown[] }
  return {
    ...command,
    subcommands: command.subcommands
      .map(sortedTree)
      .sort((a, b) => (a as { name: string }).name.localeCompare((b as { name: string }).name))
  }
}

const sorted = <T>(items: T[]): T[] =>
  [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

interface TarEntry {
  name: string
  type: string
  mode: string
  size: number
  content: string
}

/**
 * A tar archive's entries. Mtime and checksum are left out: Kubo writes the time of the `get` into
 * each header, so two calls a second apart differ there and only there.
 */
function tarEntries(archive: Uint8Array): TarEntry[] {
  const bytes = Buffer.from(archive)
  const field = (offset: number, length: number) =>
    bytes
      .subarray(offset, offset + length)
      .toString('latin1')
      .replace(/\0.*$/s, '')
  const entries: TarEntry[] = []
  let offset = 0
  while (offset + 512 <= bytes.byteLength && bytes[offset] !== 0) {
    const size = Number.parseInt(field(offset + 124, 12).trim() || '0', 8)
    entries.push({
      name: field(offset, 100),
      type: field(offset + 156, 1),
      mode: field(offset + 100, 8),
      size,
      content: bytes.subarray(offset + 512, offset + 512 + size).toString('utf8')
    })
    offset += 512 + Math.ceil(size / 512) * 512
  }
  return entries
}

/** The names of the files in a zip archive, from their local headers. */
function zipNames(archive: Uint8Array): string[] {
  const bytes = Buffer.from(archive)
  const names: string[] = []
  for (
    let offset = bytes.indexOf('PK\x03\x04');
    offset !== -1;
    offset = bytes.indexOf('PK\x03\x04', offset + 4)
  ) {
    const length = bytes.readUInt16LE(offset + 26)
    names.push(bytes.subarray(offset + 30, offset + 30 + length).toString('utf8'))
  }
  return names
}

describe('parity sweep: the same calls over HTTP and through the ipfs CLI', () => {
  let node: KuboNode
  let http: KuboClient
  let cli: KuboClient
  /** A small tree: `parity/a.txt`, `parity/sub/b.txt`, `parity/sub/c.bin`. */
  let tree: { root: string; a: string; sub: string; b: string }
  let exportedKey: Uint8Array
  // The Kubo the node runs: the pinned one, or KUBO_BINARY (CI also runs the oldest supported).
  let kuboVersion: string

  beforeAll(async () => {
    kuboVersion = (await findKuboBinary()).version
    node = await createKuboNode({ config: { Experimental: { FilestoreEnabled: true } } })
    http = createKuboClient({ apiUrl: node.apiUrl })
    cli = cliClientOf(node)
    const added = await all(
      http.addAll([
        { path: 'parity/a.txt', content: 'file a of the parity tree' },
        { path: 'parity/sub/b.txt', content: 'file b, one level down' },
        { path: 'parity/sub/c.bin', content: new Uint8Array(5000).map((_, index) => index % 251) }
      ])
    )
    const cid = (name: string) => added.find(entry => entry.name === name)?.cid ?? ''
    tree = { root: cid('parity'), a: cid('parity/a.txt'), sub: cid('parity/sub'), b: cid('parity/sub/b.txt') }
    await using withExport = createKuboCliClient({
      binary: node.binary,
      api: node.apiMultiaddr,
      repoPath: node.repoPath
    })
    await withExport.key.gen('parity-export')
    exportedKey = await withExport.key.export('parity-export')
  })

  afterAll(async () => {
    await cli?.close()
    await http?.close()
    await node?.stop()
  })

  const cases: ParityCase[] = [
    // --- the root commands
    {
      commands: ['version', 'version/deps'],
      run: async client => ({ version: await client.version(), deps: await all(client.version.deps()) }),
      check: value => expect((value as { version: { version: string } }).version.version).toBe(kuboVersion)
    },
    {
      commands: ['id'],
      run: async client => [await client.id(), await client.id(node.peerId)],
      check: value => expect((value as Array<{ id: string }>)[0]?.id).toBe(node.peerId)
    },
    {
      commands: ['add'],
      run: async client =>
        await all(
          client.addAll(
            [
              { path: 'added/one.txt', content: 'first added file' },
              { path: 'added/two.txt', content: 'second added file' }
            ],
            { cidVersion: 1, rawLeaves: true, pin: false }
          )
        ),
      // The CLI prints `added <cid> <name>` only: sizes are not in its output (README, Limits).
      normalise: value => (value as Array<{ size: number }>).map(({ size: _, ...result }) => result),
      check: value => expect((value as Array<{ name: string }>).map(result => result.name)).toContain('added')
    },
    {
      commands: ['cat'],
      run: async client => [
        await text(client.cat(tree.a)),
        await text(client.cat(`/ipfs/${tree.root}/sub/b.txt`, { offset: 5, length: 4 }))
      ],
      check: value => expect(value).toEqual(['file a of the parity tree', 'b, o'])
    },
    {
      commands: ['get'],
      run: async client => [
        tarEntries(await collect(client.get(tree.root))),
        tarEntries(gunzipSync(await collect(client.get(tree.sub, { compress: true, compressionLevel: 6 }))))
      ],
      check: value =>
        expect((value as TarEntry[][])[0]?.map(entry => [entry.name, entry.size])).toEqual([
          [tree.root, 0],
          [`${tree.root}/a.txt`, 25],
          [`${tree.root}/sub`, 0],
          [`${tree.root}/sub/b.txt`, 22],
          [`${tree.root}/sub/c.bin`, 5000]
        ])
    },
    {
      commands: ['ls'],
      run: async client => [await client.ls(tree.root), await client.ls(tree.sub)],
      check: value =>
        expect((value as Array<{ links: Array<{ name: string }> }>)[0]?.links.map(link => link.name)).toEqual(
          ['a.txt', 'sub']
        )
    },
    {
      commands: ['refs', 'refs/local'],
      run: async client => ({
        refs: await all(client.refs(tree.root, { recursive: true, unique: true })),
        edges: await all(client.refs([tree.root], { edges: true, recursive: true })),
        // The blockstore's order, which two walks need not share.
        local: sorted(await all(client.refs.local()))
      }),
      check: value => expect((value as { refs: unknown[] }).refs).toHaveLength(4)
    },
    {
      commands: ['resolve'],
      run: async client => [
        await client.resolve(`/ipfs/${tree.root}/sub/b.txt`),
        await client.resolve(`/ipfs/${tree.root}/sub`, { recursive: true })
      ],
      check: value => expect(value).toEqual([`/ipfs/${tree.b}`, `/ipfs/${tree.sub}`])
    },
    {
      commands: ['ping'],
      // A lone node: pinging itself is refused, the same way through both.
      run: async client => await outcome(async () => await all(client.ping(node.peerId, { count: 1 }))),
      check: value => expect(value).toMatchObject({ error: { name: 'KuboRpcError' } })
    },
    {
      commands: ['commands'],
      run: async client => await client.commands(),
      // Kubo lists subcommands in Go's map order, which changes from one call to the next.
      normalise: value => sortedTree(value),
      check: value =>
        expect(
          (value as { subcommands: Array<{ name: string }> }).subcommands.map(command => command.name)
        ).toContain('files')
    },

    // --- block
    {
      commands: ['block/put', 'block/get', 'block/stat', 'block/rm'],
      run: async client => {
        const put = await client.block.put('a block of the parity sweep', { cidCodec: 'raw' })
        const got = await text(client.block.get(put.cid))
        const stat = await client.block.stat(put.cid)
        const removed = await all(client.block.rm(put.cid))
        const missing = await outcome(async () => await client.block.stat(MISSING, { offline: true }))
        return { put, got, stat, removed, missing }
      },
      check: value => expect((value as { got: string }).got).toBe('a block of the parity sweep')
    },

    // --- dag
    {
      commands: ['dag/put', 'dag/get', 'dag/resolve', 'dag/stat', 'dag/export', 'dag/import'],
      run: async client => {
        const leaf = await client.dag.put({ hello: 'parity', list: [1, 2, 3] })
        const root = await client.dag.put({ child: { '/': leaf }, name: 'root' }, { pin: true })
        const car = await collect(client.dag.export(root))
        return {
          leaf,
          root,
          got: await client.dag.get(`${root}/child/list`),
          whole: await client.dag.get(root),
          raw: Buffer.from(await client.dag.get(leaf, { outputCodec: 'dag-cbor' })).toString('hex'),
          resolved: await client.dag.resolve(`${root}/child/hello`),
          stat: await client.dag.stat(root),
          car: Buffer.from(car).toString('base64'),
          imported: await all(client.dag.import(car, { pinRoots: true, stats: true }))
        }
      },
      check: value => expect((value as { got: unknown }).got).toEqual([1, 2, 3])
    },

    // --- cid and multibase
    {
      commands: ['cid/format', 'cid/base32', 'cid/inspect', 'cid/bases', 'cid/codecs', 'cid/hashes'],
      run: async client => ({
        format: await all(client.cid.format([tree.a, MISSING], { version: 1, base: 'base36' })),
        base32: await all(client.cid.base32(tree.a)),
        inspect: await client.cid.inspect(tree.root),
        bases: await client.cid.bases(),
        codecs: await client.cid.codecs({ supported: true }),
        hashes: await client.cid.hashes()
      }),
      check: value =>
        expect((value as { base32: Array<{ formatted: string }> }).base32[0]?.formatted).toMatch(/^bafy/)
    },
    {
      commands: ['multibase/encode', 'multibase/decode', 'multibase/transcode', 'multibase/list'],
      run: async client => {
        const encoded = await client.multibase.encode('parity bytes', { base: 'base58btc' })
        return {
          encoded,
          decoded: new TextDecoder().decode(await client.multibase.decode(encoded)),
          transcoded: await client.multibase.transcode(encoded, { base: 'base16' }),
          list: await client.multibase.list()
        }
      },
      check: value => expect((value as { decoded: string }).decoded).toBe('parity bytes')
    },

    // --- files (MFS): each run works in its own folder
    {
      commands: ['files/mkdir', 'files/write', 'files/read', 'files/ls', 'files/stat', 'files/flush'],
      run: async (client, tag) => {
        await client.files.mkdir(`/${tag}/docs`, { parents: true })
        await client.files.write(`/${tag}/docs/note.txt`, 'a note in MFS', { create: true })
        await client.files.write(`/${tag}/docs/note.txt`, 'NOTE', { offset: 2 })
        return {
          read: await text(client.files.read(`/${tag}/docs/note.txt`)),
          part: await text(client.files.read(`/${tag}/docs/note.txt`, { offset: 2, count: 4 })),
          ls: await client.files.ls(`/${tag}/docs`, { long: true }),
          root: await client.files.ls(`/${tag}`),
          stat: await client.files.stat(`/${tag}/docs`),
          fileStat: await client.files.stat(`/${tag}/docs/note.txt`, { withLocal: true }),
          flushed: await client.files.flush(`/${tag}`)
        }
      },
      check: value => expect((value as { read: string }).read).toBe('a NOTE in MFS')
    },
    {
      commands: ['files/cp', 'files/mv', 'files/rm', 'files/chcid', 'files/touch', 'files/chmod'],
      run: async (client, tag) => {
        await client.files.mkdir(`/${tag}/moves`, { parents: true })
        await client.files.cp(`/ipfs/${tree.root}`, `/${tag}/moves/tree`)
        await client.files.mv(`/${tag}/moves/tree/a.txt`, `/${tag}/moves/a-moved.txt`)
        await client.files.rm(`/${tag}/moves/tree/sub`, { recursive: true })
        await client.files.chcid(`/${tag}/moves`, { cidVersion: 1 })
        await client.files.touch(`/${tag}/moves/a-moved.txt`, { mtime: new Date('2024-01-02T03:04:05Z') })
        await client.files.chmod(0o640, `/${tag}/moves/a-moved.txt`)
        const missing = await outcome(async () => await client.files.stat(`/${tag}/moves/tree/sub`))
        return {
          ls: await client.files.ls(`/${tag}/moves`, { long: true }),
          stat: await client.files.stat(`/${tag}/moves/a-moved.txt`),
          dir: await client.files.stat(`/${tag}/moves`),
          missing
        }
      },
      check: value => expect((value as { stat: { mode: number } }).stat.mode).toBe(0o640)
    },

    // --- keys
    {
      commands: ['key/gen', 'key/rename', 'key/rm'],
      run: async (client, tag) => {
        const generated = await client.key.gen(`gen-${tag}`, { type: 'ed25519' })
        const renamed = await client.key.rename(`gen-${tag}`, `renamed-${tag}`)
        const removed = await client.key.rm(`renamed-${tag}`)
        const missing = await outcome(async () => await client.key.rm(`gen-${tag}`))
        return { generated, renamed, removed, missing, sameId: generated.id === renamed.id }
      },
      // A new key has a new id each time it is made: only its format is compared.
      normalise: value =>
        JSON.parse(
          JSON.stringify(value).replace(/k51qzi5uqu5[a-z0-9]+|12D3KooW[A-Za-z0-9]+/g, '<new key id>')
        ),
      check: value => expect((value as { sameId: boolean }).sameId).toBe(true)
    },
    {
      commands: ['key/import', 'key/ls', 'key/list'],
      run: async (client, tag) => {
        const imported = await client.key.import(`imported-${tag}`, exportedKey)
        // Both runs' keys are there for the second: only this run's and the shared ones are compared.
        const mine = (keys: Array<{ name: string }>) =>
          keys.filter(key => !key.name.startsWith('imported-') || key.name === `imported-${tag}`)
        return {
          imported,
          ls: mine(await client.key.ls({ ipnsBase: 'base36' })),
          list: mine(await client.key.list()),
          removed: await client.key.rm(`imported-${tag}`)
        }
      },
      check: value =>
        expect((value as { ls: Array<{ name: string }> }).ls.map(key => key.name)).toContain('self')
    },
    {
      commands: ['key/sign', 'key/verify'],
      run: async client => {
        // ed25519 signatures are deterministic: the same bytes whoever asks.
        const signed = await client.key.sign('data to sign', { key: 'parity-export' })
        const valid = await client.key.verify('data to sign', {
          key: 'parity-export',
          signature: signed.signature
        })
        const invalid = await client.key.verify('other data', {
          key: 'parity-export',
          signature: signed.signature
        })
        return { signed, valid, invalid }
      },
      check: value => expect((value as { valid: { valid: boolean } }).valid.valid).toBe(true)
    },

    // --- IPNS
    {
      commands: ['name/publish', 'name/resolve', 'name/get', 'name/inspect', 'name/put', 'routing/get'],
      run: async (client, tag) => {
        const key = await client.key.gen(`ipns-${tag}`)
        const published = await client.name.publish(`/ipfs/${tree.root}`, {
          key: `ipns-${tag}`,
          allowOffline: true,
          lifetime: '24h',
          ttl: '1m'
        })
        const resolved = await client.name.resolve(key.id, { recursive: false })
        const streamed = await all(client.name.resolve(key.id, { stream: true }))
        const record = await collect(client.name.get(key.id))
        const inspected = await client.name.inspect(record, { verify: key.id })
        const put = await outcome(async () => await client.name.put(key.id, record, { allowOffline: true }))
        await client.key.rm(`ipns-${tag}`)
        return {
          published: { ...published, name: published.name === key.id },
          resolved,
          streamed,
          // Signed now, by a new key: compared by what it holds.
          inspected: {
            value: inspected.entry.value,
            validityType: inspected.entry.validityType,
            sequence: inspected.entry.sequence,
            ttl: inspected.entry.ttl,
            valid: inspected.validation?.valid,
            checkedName: inspected.validation?.name === key.id
          },
          put: 'value' in put ? { value: (put.value as { value: string }).value } : put
        }
      },
      check: value => expect((value as { resolved: string }).resolved).toBe(`/ipfs/${tree.root}`)
    },
    {
      commands: ['name/pubsub/state', 'name/pubsub/subs', 'name/pubsub/cancel'],
      run: async client => ({
        state: await client.name.pubsub.state(),
        subs: await outcome(async () => await client.name.pubsub.subs()),
        cancel: await outcome(async () => await client.name.pubsub.cancel(`/ipns/${node.peerId}`))
      }),
      check: value => expect((value as { state: boolean }).state).toBe(false)
    },

    // --- pins
    {
      commands: ['pin/add', 'pin/ls', 'pin/rm', 'pin/update', 'pin/verify'],
      run: async client => {
        const one = (await http.add('pin me through both', { pin: false })).cid
        const two = (await http.add('and then move the pin here', { pin: false })).cid
        const added = await client.pin.add(one, { name: 'parity-pin' })
        const listed = await all(client.pin.ls(one, { names: true }))
        const streamed = sorted(await all(client.pin.ls({ type: 'recursive', stream: true })))
        const updated = await client.pin.update(one, two)
        const verified = await all(client.pin.verify({ verbose: true }))
        const removed = await client.pin.rm(two)
        const notPinned = await outcome(async () => await client.pin.rm(two))
        return { added, listed, streamed, updated, verified: sorted(verified), removed, notPinned }
      },
      check: value => expect((value as { added: string[] }).added).toHaveLength(1)
    },
    {
      commands: ['pin/add'],
      title: 'pin/add with onProgress',
      run: async client => {
        const cid = (await http.add('pinned with progress', { pin: false })).cid
        const progress: number[] = []
        const pinned = await client.pin.add(cid, { onProgress: nodes => progress.push(nodes) })
        await client.pin.rm(cid)
        return { pinned, progress }
      },
      // Kubo reports progress every 500 ms (none for a pin this small over HTTP either); the CLI
      // prints it on stderr only, so `onProgress` is never called there (README, Limits).
      normalise: value => ({ ...(value as object), progress: undefined }),
      check: value => expect((value as { pinned: string[] }).pinned).toHaveLength(1)
    },

    // --- object (what is left of it)
    {
      commands: ['object/get', 'object/patch/set-data', 'dht/findpeer', 'dht/get'],
      // Removed from Kubo: each only says so, whatever it is given.
      run: async client => [
        await outcome(async () => await client.object.get(tree.a)),
        await outcome(async () => await client.object.patch.setData(tree.a, 'data')),
        await outcome(
          async () => await (await client.request('dht/findpeer', { args: [node.peerId] })).json()
        ),
        await outcome(
          async () => await (await client.request('dht/get', { args: [`/ipns/${node.peerId}`] })).json()
        )
      ],
      check: value =>
        expect(
          (value as Array<{ error: { kuboMessage: string } }>).map(item => item.error.kuboMessage)
        ).toEqual([
          "removed, use 'ipfs dag' or 'ipfs files' instead",
          "removed, use 'ipfs dag' or 'ipfs files' instead",
          "removed, use 'ipfs routing' instead",
          "removed, use 'ipfs routing' instead"
        ])
    },
    {
      commands: ['object/diff', 'object/patch/add-link', 'object/patch/rm-link', 'object/stat'],
      run: async client => {
        const added = await client.object.patch.addLink(tree.sub, 'a-copy.txt', tree.a)
        const removed = await client.object.patch.rmLink(added, 'a-copy.txt')
        return {
          added,
          removed,
          diff: await client.object.diff(tree.sub, added),
          stat: await outcome(async () => await client.object.stat(tree.a))
        }
      },
      check: value => expect((value as { removed: string }).removed).toBe(tree.sub)
    },

    // --- config
    {
      commands: ['config', 'config/show', 'config/replace', 'config/profile/apply'],
      run: async client => {
        const before = await client.config<number>('Datastore.StorageGCWatermark')
        const set = await client.config('Datastore.StorageGCWatermark', 85)
        const text = await client.config('Addresses.Announce', ['/ip4/10.0.0.1/tcp/4001'])
        // Replacing writes the config in Kubo's own form (e.g. each plugin's `Disabled`): what
        // both runs then show is the same.
        await client.config.replace(await client.config.show())
        const show = await client.config.show()
        await client.config('Datastore.StorageGCWatermark', before)
        await client.config('Addresses.Announce', [])
        return {
          before,
          set,
          text,
          show,
          bool: await client.config('Experimental.FilestoreEnabled'),
          missing: await outcome(async () => await client.config('No.Such.Key')),
          dryRun: await client.config.profile.apply('lowpower', { dryRun: true })
        }
      },
      check: value => expect((value as { set: number }).set).toBe(85)
    },

    // --- bootstrap
    {
      commands: ['bootstrap', 'bootstrap/list', 'bootstrap/add', 'bootstrap/rm', 'bootstrap/rm/all'],
      run: async client => {
        const peer = `/ip4/10.1.2.3/tcp/4001/p2p/${node.peerId}`
        const other = '/ip4/10.1.2.4/tcp/4001/p2p/12D3KooWSRbN1p6JjNEJqjwsssv91Mca2neZDiA5mX44E9CatUP9'
        const added = await client.bootstrap.add([peer, other])
        const listed = await client.bootstrap.list()
        const callable = await client.bootstrap()
        const removed = await client.bootstrap.rm(peer)
        const rest = await client.bootstrap.rm.all()
        return { added, listed, callable, removed, rest, after: await client.bootstrap.list() }
      },
      check: value => expect((value as { listed: string[] }).listed).toHaveLength(2)
    },

    // --- swarm
    {
      commands: ['swarm/addrs', 'swarm/addrs/listen', 'swarm/addrs/local', 'swarm/peers'],
      run: async client => ({
        addrs: await client.swarm.addrs(),
        listen: await client.swarm.addrs.listen(),
        local: await client.swarm.addrs.local({ id: true }),
        peers: await client.swarm.peers({ verbose: true })
      }),
      check: value => expect((value as { listen: string[] }).listen.length).toBeGreaterThan(0)
    },
    {
      commands: ['swarm/filters', 'swarm/filters/add', 'swarm/filters/rm'],
      run: async client => {
        const filter = '/ip4/10.20.0.0/ipcidr/16'
        const added = await client.swarm.filters.add(filter)
        const listed = await client.swarm.filters()
        const removed = await client.swarm.filters.rm(filter)
        return { added, listed, removed, after: await client.swarm.filters() }
      },
      check: value => expect((value as { listed: string[] }).listed).toContain('/ip4/10.20.0.0/ipcidr/16')
    },
    {
      commands: ['swarm/peering/add', 'swarm/peering/ls', 'swarm/peering/rm'],
      run: async client => {
        const peer = '12D3KooWSRbN1p6JjNEJqjwsssv91Mca2neZDiA5mX44E9CatUP9'
        const added = await client.swarm.peering.add(`/ip4/10.1.2.4/tcp/4001/p2p/${peer}`)
        const listed = await client.swarm.peering.ls()
        const removed = await client.swarm.peering.rm(peer)
        return { added, listed, removed, after: await client.swarm.peering.ls() }
      },
      check: value => expect((value as { listed: unknown[] }).listed).toHaveLength(1)
    },
    {
      commands: ['swarm/connect', 'swarm/disconnect'],
      run: async client => ({
        // Refused before any dial: the same text through both.
        connect: await outcome(
          async () => await client.swarm.connect(`/ip4/127.0.0.1/tcp/1/p2p/${node.peerId}`)
        ),
        disconnect: await outcome(
          async () =>
            await client.swarm.disconnect('/p2p/12D3KooWSRbN1p6JjNEJqjwsssv91Mca2neZDiA5mX44E9CatUP9')
        )
      }),
      check: value => expect(value).toMatchObject({ connect: { error: { name: 'KuboRpcError' } } })
    },
    {
      commands: ['swarm/resources', 'swarm/addrs/autonat'],
      run: async client => ({
        resources: await outcome(async () => await client.swarm.resources()),
        autonat: await client.swarm.addrs.autonat()
      }),
      // Connection and memory counts move from one moment to the next: the shape is compared.
      normalise: value => shape(value),
      check: value => expect(value).toMatchObject({ autonat: expect.any(Object) })
    },

    // --- routing and DHT, on a node with no peers
    {
      commands: ['routing/get', 'routing/put', 'routing/findprovs', 'routing/findpeer', 'routing/provide'],
      run: async client => {
        await http.name.publish(`/ipfs/${tree.a}`, { allowOffline: true })
        const record = await client.routing.get(`/ipns/${node.peerId}`)
        const put = await outcome(
          async () => await client.routing.put(`/ipns/${node.peerId}`, record, { allowOffline: true })
        )
        const findprovs = await outcome(
          async () => await all(client.routing.findprovs(tree.a, { numProviders: 1 }))
        )
        const findpeer = await outcome(async () => await all(client.routing.findpeer(node.peerId)))
        const provide = await outcome(async () => await client.routing.provide(tree.a))
        return { record: record.byteLength > 0, put, findprovs, findpeer, provide }
      },
      check: value => expect((value as { record: boolean }).record).toBe(true)
    },
    {
      commands: ['dht/query', 'stats/dht'],
      run: async client => ({
        query: await outcome(async () => await all(client.dht.query(node.peerId, { timeout: 5_000 }))),
        tables: (await all(client.stats.dht())).map(table => table.name)
      }),
      check: value => expect((value as { tables: string[] }).tables).toEqual(['wan', 'lan'])
    },

    // --- stats, bitswap, repo
    {
      commands: [
        'stats/bw',
        'stats/bitswap',
        'stats/repo',
        'bitswap/stat',
        'bitswap/wantlist',
        'bitswap/ledger'
      ],
      run: async client => ({
        bw: await client.stats.bw(),
        bitswap: await client.stats.bitswap(),
        // The datastore may write in the background (provider state): the size's presence is compared.
        repo: (({ repoSize, ...stat }) => ({ ...stat, repoSize: repoSize > 0 }))(
          await client.stats.repo({ sizeOnly: true })
        ),
        bitswapStat: await client.bitswap.stat(),
        wantlist: await client.bitswap.wantlist(),
        ledger: await client.bitswap.ledger(node.peerId)
      }),
      check: value => expect((value as { ledger: { peer: string } }).ledger.peer).toBe(node.peerId)
    },
    {
      commands: ['repo/stat', 'repo/version', 'repo/verify', 'repo/ls', 'repo/gc', 'bitswap/reprovide'],
      run: async client => {
        await all(client.repo.gc())
        const garbage = await client.block.put('garbage for repo gc')
        const { repoSize, ...stat } = await client.repo.stat()
        return {
          // The datastore's files grow with every write (the runs' own gc too): only the size's presence is compared.
          stat: { ...stat, repoSize: repoSize > 0 },
          version: await client.repo.version(),
          verify: (await all(client.repo.verify())).at(-1),
          ls: sorted(await all(client.repo.ls())),
          gc: await all(client.repo.gc()),
          garbage: garbage.cid,
          reprovide: await outcome(async () => await client.bitswap.reprovide())
        }
      },
      check: value => expect((value as { version: number }).version).toBeGreaterThan(10)
    },

    // --- provide
    {
      commands: [
        'provide/stat',
        'stats/provide',
        'stats/reprovide',
        'provide/once',
        'provide/clear',
        'routing/reprovide'
      ],
      run: async client => ({
        stat: await outcome(async () => await client.provide.stat()),
        legacy: await outcome(async () => await client.stats.provide()),
        reprovideStat: await outcome(async () => await client.stats.reprovide()),
        reprovide: await outcome(async () => await client.routing.reprovide()),
        once: await outcome(async () => await all(client.provide.once(tree.a))),
        clear: await outcome(async () => await client.provide.clear())
      }),
      // The provider's counters and timestamps move on their own: of a statistic, its shape and
      // the settings that do not move are compared. Errors are compared whole (name, Kubo's
      // message, status, code).
      normalise: value =>
        Object.fromEntries(
          Object.entries(value as Record<string, Outcome>).map(([name, result]) => {
            if ('error' in result) return [name, result]
            const stat = result.value as { type?: string; closed?: boolean; workers?: { max?: number } }
            return [
              name,
              typeof result.value === 'object' && result.value != null
                ? { shape: shape(stat), type: stat.type, closed: stat.closed, maxWorkers: stat.workers?.max }
                : result
            ]
          })
        ),
      // What this lone node must answer, so that the two transports failing alike (or answering
      // nothing alike) does not pass: statistics of its sweep provider; a manual reprovide refused
      // because of that provider; a provide refused for want of peers; a clear that counts.
      check: value => {
        const results = value as Record<string, Outcome>
        for (const name of ['stat', 'legacy', 'reprovideStat']) {
          expect(results[name]).toMatchObject({ value: { type: 'sweep', closed: false } })
        }
        expect(results.reprovide).toMatchObject({
          error: {
            name: 'KuboRpcError',
            kuboMessage: expect.stringMatching(/^manual reprovide is not available with the sweep provider/)
          }
        })
        expect(results.once).toEqual({
          error: {
            name: 'KuboRpcError',
            kuboMessage: 'cannot provide: no connected peers',
            code: 0,
            status: 500
          }
        })
        expect(results.clear).toEqual({ value: expect.any(Number) })
      }
    },

    // --- diag and log
    {
      commands: ['diag/sys', 'diag/healthy', 'diag/cmds', 'diag/cmds/clear', 'diag/cmds/set-time'],
      run: async client => {
        await client.diag.cmds.setTime('1m')
        const cmds = await client.diag.cmds()
        await client.diag.cmds.clear()
        const sys = await client.diag.sys()
        return {
          healthy: await client.diag.healthy(),
          // Memory, goroutines and free disk space change between two calls.
          sys: {
            ...(shape(sys) as object),
            os: sys.runtime.os,
            arch: sys.runtime.arch,
            online: sys.net.online
          },
          // The log holds every client's requests (the CLI's calls include `version` checks, and
          // their options differ): this run's set-time is compared, without its times and options.
          cmds: cmds
            .filter(entry => entry.command === 'diag/cmds/set-time')
            .slice(-1)
            .map(({ command, args, active, endTime }) => ({ command, args, active, ended: endTime != null }))
        }
      },
      check: value =>
        expect(value).toMatchObject({
          sys: { os: process.platform },
          cmds: [{ command: 'diag/cmds/set-time', args: ['1m'], active: false, ended: true }]
        })
    },
    {
      commands: ['diag/profile'],
      // Kubo runs the collectors in no fixed order: the names are compared sorted.
      run: async client =>
        zipNames(
          await collect(client.diag.profile({ collectors: ['goroutines-stack', 'version'], profileTime: 0 }))
        ).sort(),
      check: value => expect(value).toEqual(['goroutines.stacks', 'version.json'])
    },
    {
      commands: ['log/ls', 'log/level'],
      run: async client => {
        const set = await client.log.level('bitswap', 'debug')
        const one = await client.log.level('bitswap')
        await client.log.level('bitswap', 'default')
        return { ls: (await client.log.ls()).sort(), set, one, every: await client.log.level('all') }
      },
      check: value => expect((value as { one: Record<string, string> }).one).toEqual({ bitswap: 'debug' })
    },

    // --- p2p, pubsub, filestore
    {
      commands: ['p2p/listen', 'p2p/forward', 'p2p/ls', 'p2p/close', 'p2p/stream/ls', 'p2p/stream/close'],
      run: async (client, tag) => {
        await client.p2p.listen(`/x/parity-${tag}`, '/ip4/127.0.0.1/tcp/4999')
        await client.p2p.forward(`/x/parity-${tag}`, '/ip4/127.0.0.1/tcp/4998', `/p2p/${node.peerId}`)
        // Kubo keeps listeners in maps: no fixed order.
        const listed = sorted(await client.p2p.ls())
        const streams = await client.p2p.stream.ls()
        await client.p2p.stream.close({ all: true })
        const closed = await client.p2p.close({ protocol: `/x/parity-${tag}` })
        return { listed, streams, closed, after: await client.p2p.ls() }
      },
      check: value => expect((value as { closed: number }).closed).toBe(2)
    },
    {
      commands: ['pubsub/ls', 'pubsub/peers'],
      run: async client => ({ ls: await client.pubsub.ls(), peers: await client.pubsub.peers() }),
      // A lone node with no subscription (publishing and subscribing are in the contract tests).
      check: value => expect(value).toEqual({ ls: [], peers: [] })
    },
    {
      commands: ['filestore/dups', 'filestore/ls'],
      run: async client => ({
        dups: await all(client.filestore.dups()),
        ls: await all(client.filestore.ls())
      }),
      // Nothing added with `nocopy` here (test/cli-outputs.test.ts has the filestore with entries).
      check: value => expect(value).toEqual({ dups: [], ls: [] })
    }
  ]

  for (const parity of cases) {
    it(parity.title ?? parity.commands.join(', '), async () => {
      const overHttp = untagged(await parity.run(http, 'viaHttp'), 'viaHttp')
      const throughCli = untagged(await parity.run(cli, 'viaCli'), 'viaCli')
      parity.check?.(overHttp)
      const normalise = parity.normalise ?? ((value: unknown) => value)
      expect(normalise(throughCli)).toEqual(normalise(overHttp))
    })
  }

  it('a failure mid-stream: the same error, its message saying how it came', async () => {
    // A folder whose second file has lost its last block, and no network to find it on: the
    // archive begins (the first file), then breaks.
    const added = await all(
      http.addAll(
        [
          // Large enough to be flushed before the error: Kubo buffers small output.
          { path: 'broken/a.txt', content: 'the complete first file'.repeat(50_000) },
          { path: 'broken/b.bin', content: new Uint8Array(300_000).map((_, index) => index % 13) }
        ],
        { rawLeaves: true, pin: false }
      )
    )
    const cid = (name: string) => added.find(entry => entry.name === name)?.cid ?? ''
    const leaves = await all(http.refs(cid('broken/b.bin')))
    await all(http.block.rm(leaves.at(-1)?.ref ?? ''))
    const read = async (client: KuboClient) => {
      let received = ''
      try {
        const response = await client.request('get', {
          args: [cid('broken')],
          options: { archive: true, offline: true }
        })
        for await (const chunk of response.bytes()) received += Buffer.from(chunk).toString('latin1')
        return { received: received.length }
      } catch (caught) {
        const error = caught as Error & { kuboMessage?: string; status?: number; code?: number }
        return {
          firstFile: received.includes('the complete first file'),
          name: error.name,
          status: error.status,
          code: error.code,
          kuboMessage: error.kuboMessage,
          message: error.message
        }
      }
    }
    const overHttp = await read(http)
    const throughCli = await read(cli)
    expect(overHttp).toMatchObject({ firstFile: true, name: 'KuboRpcError', status: 200 })
    expect(overHttp.message).toBe(`Kubo refused get: ${overHttp.kuboMessage} (mid-stream)`)
    expect(throughCli.message).toBe(
      `Kubo refused get: ${overHttp.kuboMessage} (mid-stream; ipfs exited with code 1)`
    )
    expect({ ...throughCli, message: undefined }).toEqual({ ...overHttp, message: undefined })

    // Failing before the first byte, after HTTP's 200 (the first block is the missing one): the
    // CLI cannot tell, and says 500 (README, Limits).
    const headless = (
      await http.add(
        new Uint8Array(600_000).map((_, index) => index % 11),
        { rawLeaves: true, pin: false }
      )
    ).cid
    const [firstLeaf] = await all(http.refs(headless))
    await all(http.block.rm(firstLeaf?.ref ?? ''))
    const refusal = async (client: KuboClient) =>
      await client
        .request('cat', { args: [headless], options: { offline: true } })
        .then(async response => await response.drain())
        .then(() => undefined)
        .catch((caught: unknown) => caught as Error & { kuboMessage?: string; status?: number })
    const [catOverHttp, catThroughCli] = [await refusal(http), await refusal(cli)]
    expect(catOverHttp).toMatchObject({ name: 'KuboRpcError', status: 200 })
    expect(catThroughCli).toMatchObject({
      name: 'KuboRpcError',
      status: 500,
      kuboMessage: catOverHttp?.kuboMessage
    })
  })

  it('covers 60 distinct commands or more', () => {
    const commands = new Set(cases.flatMap(parity => parity.commands))
    expect(commands.size).toBeGreaterThanOrEqual(60)
  })
})
