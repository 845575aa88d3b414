import { type AddContent, entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkPath } from '../validate.js'

/** Kubo writes CIDs in dag command results as dag-json links. */
interface RawLink {
  '/': string
}

export interface DagPutOptions extends CallOptions {
  /** Codec the node is stored with; default `dag-cbor`. */
  storeCodec?: string
  /** Codec the input is in; default `dag-json`. A JavaScript value is always sent as JSON, so only `dag-json` or `json` fit it. */
  inputCodec?: string
  /** Pin the node. */
  pin?: boolean
  /** Hash function, e.g. `sha2-256` (Kubo's default, from `Import.HashFunction`), `blake3`. */
  hash?: string
  /** Accept a node over 2 MiB, which bitswap cannot transfer to other peers. */
  allowBigBlock?: boolean
}

/** The output codecs `dag.get` parses into a JavaScript value; any other codec gives the encoded bytes. */
export type DagJsonCodec = 'dag-json' | 'json'

export interface DagGetOptions<Codec extends string = DagJsonCodec> extends CallOptions {
  /** Codec the node is encoded with on the way out; default `dag-json`. */
  outputCodec?: Codec
  /**
   * Answer from the local blockstore only: fail at once instead of searching the network. Kubo
   * 0.43 ignores it when a path crosses a link to a missing block, and waits for that block.
   */
  offline?: boolean
}

/**
 * What `dag.get` resolves with: the parsed node for `dag-json` and `json`, the encoded bytes for
 * any other codec, and `unknown` when the codec is not known when compiling.
 */
export type DagGetResult<Codec extends string> = string extends Codec
  ? unknown
  : Codec extends DagJsonCodec
    ? unknown
    : Uint8Array

export interface DagResolveOptions extends CallOptions {
  offline?: boolean
}

export interface DagResolveResult {
  /** The CID of the last block the path reaches. */
  cid: string
  /** The part of the path that lies inside that block (e.g. `/hello`), `''` when the path ends at the block. */
  remainderPath: string
}

export interface DagStatOptions extends CallOptions {
  /** Called with the running totals as Kubo walks the DAG, once per block. */
  onProgress?: (progress: DagStatSummary) => void
  offline?: boolean
}

export interface DagStat {
  cid: string
  /** Total bytes of the DAG's blocks, each distinct block counted once. */
  size: number
  /** Number of distinct blocks in the DAG. */
  numBlocks: number
}

export interface DagStatSummary {
  /** Distinct blocks across all the DAGs. */
  uniqueBlocks: number
  /** Bytes of the distinct blocks across all the DAGs. */
  totalSize: number
  /** Bytes counted more than once because DAGs share blocks. */
  sharedSize: number
  /** Bytes of all DAGs counted separately, divided by `totalSize`; 1 when nothing is shared (0 while in progress). */
  ratio: number
  /** One entry per root asked for, in order. */
  dagStats: DagStat[]
}

interface RawDagStatSummary {
  UniqueBlocks?: number
  TotalSize?: number
  SharedSize?: number
  Ratio?: number
  DagStats?: Array<{ Cid: string; Size?: number; NumBlocks?: number }> | null
}

export interface DagImportOptions extends CallOptions {
  /** Pin the roots named in the CAR header; default true. */
  pinRoots?: boolean
  /** Import a partial CAR (e.g. from `dag.export` with `localOnly`); implies `pinRoots: false`. */
  localOnly?: boolean
  /** Also yield the number of blocks and bytes imported. */
  stats?: boolean
  /** Announce the roots to the DHT at once; default from `Import.FastProvideRoot`. */
  fastProvideRoot?: boolean
  /** Announce the whole DAG after the import; default from `Import.FastProvideDAG`. */
  fastProvideDag?: boolean
  /** Wait for the announcements before finishing; default from `Import.FastProvideWait`. */
  fastProvideWait?: boolean
  /** Accept blocks over 2 MiB. */
  allowBigBlock?: boolean
}

/** One line of `dag.import`: a root Kubo tried to pin, or (with `stats`) the totals, last. */
export type DagImportResult =
  | { root: DagImportRoot; stats?: undefined }
  | { root?: undefined; stats: DagImportStats }

export interface DagImportRoot {
  cid: string
  /** Why pinning this root failed (e.g. the CAR does not hold the whole DAG); absent when it was pinned. */
  pinError?: string
}

export interface DagImportStats {
  blockCount: number
  /** Bytes of all blocks imported. */
  blockBytesCount: number
}

interface RawImportLine {
  Root?: { Cid: RawLink; PinErrorMsg?: string }
  Stats?: { BlockCount: number; BlockBytesCount: number }
}

export interface DagExportOptions extends CallOptions {
  /** Export only the blocks this node has, skipping missing ones and what is below them (a partial CAR); implies offline. */
  localOnly?: boolean
  offline?: boolean
}

/** A CAR file: bytes, or a stream of chunks. */
export type CarInput = Exclude<AddContent, string>

/** A JavaScript value to store with `dag.put`, or its encoded bytes in `inputCodec`. */
export type DagPutInput = AddContent | DagJsonValue

/** What `JSON.stringify` can send; `Uint8Array`s become dag-json bytes, and CID objects links (via their `toJSON`). */
export type DagJsonValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | DagJsonValue[]
  | { [key: string]: DagJsonValue | undefined }
  | { toJSON(): unknown }

const JSON_CODECS: ReadonlySet<string> = new Set(['dag-json', 'json'])

function isContent(value: unknown): value is AddContent {
  if (typeof value === 'string' || value instanceof Uint8Array) return true
  if (value == null || typeof value !== 'object') return false
  if (Array.isArray(value)) return false
  // Streams and iterables of chunks are sent as they are.
  return (
    Symbol.asyncIterator in value ||
    Symbol.iterator in value ||
    typeof (value as { getReader?: unknown }).getReader === 'function'
  )
}

/** dag-json writes bytes as `{"/": {"bytes": "<base64, no padding>"}}`. */
function dagJsonReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // The holder's own value: a Buffer's toJSON() has already turned `value` into `{ type, data }`.
  const original = this[key]
  if (original instanceof Uint8Array) {
    return {
      '/': {
        bytes: Buffer.from(original.buffer, original.byteOffset, original.byteLength)
          .toString('base64')
          .replace(/=+$/, '')
      }
    }
  }
  return value
}

function toSummary(raw: RawDagStatSummary): DagStatSummary {
  return {
    uniqueBlocks: raw.UniqueBlocks ?? 0,
    totalSize: raw.TotalSize ?? 0,
    sharedSize: raw.SharedSize ?? 0,
    ratio: raw.Ratio ?? 0,
    dagStats: list(raw.DagStats).map(stat => ({
      cid: stat.Cid,
      size: stat.Size ?? 0,
      numBlocks: stat.NumBlocks ?? 0
    }))
  }
}

function toPaths(roots: string | readonly string[], argument: string): string[] {
  const paths = typeof roots === 'string' ? [roots] : [...roots]
  if (paths.length === 0) throw new InvalidArgumentError(argument, 'give at least one CID')
  for (const path of paths) checkPath(path, argument)
  return paths
}

async function concat(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of chunks) {
    parts.push(chunk)
    length += chunk.byteLength
  }
  const result = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    result.set(part, offset)
    offset += part.byteLength
  }
  return result
}

/** `dag/*`: IPLD nodes in any codec Kubo knows, and CAR import/export. */
export function createDagCommands(invoker: Invoker) {
  /**
   * Reads a node (or the value a path inside it leads to). With `dag-json` (the default) or `json`
   * it resolves with the parsed value, where links read `{ "/": "<cid>" }` and bytes
   * `{ "/": { "bytes": "<base64>" } }`, and integers beyond 2^53 lose precision; with any other
   * `outputCodec` (`dag-cbor`, `raw`, `dag-pb`, …) it resolves with the encoded bytes.
   */
  async function get<Codec extends string = DagJsonCodec>(
    path: string,
    options: DagGetOptions<Codec> = {}
  ): Promise<DagGetResult<Codec>> {
    const bytes = await concat(invoker.bytes('dag/get', options, { args: [checkPath(path)] }))
    if (!JSON_CODECS.has(options.outputCodec ?? 'dag-json')) return bytes as DagGetResult<Codec>
    return JSON.parse(new TextDecoder().decode(bytes)) as DagGetResult<Codec>
  }

  return {
    /**
     * Stores one node and returns its CID (CIDv1 in `storeCodec`, dag-cbor by default). Bytes,
     * strings and streams are sent as the encoded input in `inputCodec` (a string is JSON text, not
     * a string value); any other JavaScript value is encoded as dag-json first.
     */
    put: async (value: DagPutInput, options: DagPutOptions = {}): Promise<string> => {
      let content: AddContent
      if (isContent(value)) {
        content = value
      } else {
        if (options.inputCodec != null && !JSON_CODECS.has(options.inputCodec)) {
          throw new InvalidArgumentError(
            'inputCodec',
            `a JavaScript value is sent as JSON; pass the ${options.inputCodec} bytes instead`
          )
        }
        if (value === undefined)
          throw new InvalidArgumentError('value', 'undefined cannot be stored; pass null or a value')
        content = JSON.stringify(value, dagJsonReplacer)
      }
      const raw = await invoker.json<{ Cid: RawLink }>('dag/put', options, {
        body: entriesFromInput(content)
      })
      return raw.Cid['/']
    },

    get,

    /** The CID of the last block a path reaches, and what is left of the path inside that block. */
    resolve: async (path: string, options: DagResolveOptions = {}): Promise<DagResolveResult> => {
      const raw = await invoker.json<{ Cid: RawLink; RemPath: string }>('dag/resolve', options, {
        args: [checkPath(path)]
      })
      return { cid: raw.Cid['/'], remainderPath: raw.RemPath }
    },

    /** Walks one or more DAGs and counts their blocks and bytes, each distinct block once. */
    stat: async (
      roots: string | readonly string[],
      options: DagStatOptions = {}
    ): Promise<DagStatSummary> => {
      const args = toPaths(roots, 'roots')
      const onProgress = options.onProgress
      if (onProgress == null) {
        return toSummary(
          await invoker.json<RawDagStatSummary>('dag/stat', options, { args, options: { progress: false } })
        )
      }
      // Every line but the last is a running total; the last is the result.
      let previous: RawDagStatSummary | undefined
      for await (const line of invoker.ndjson<RawDagStatSummary>('dag/stat', options, {
        args,
        omit: ['onProgress'],
        options: { progress: true }
      })) {
        if (previous != null) onProgress(toSummary(previous))
        previous = line
      }
      return toSummary(previous ?? {})
    },

    /**
     * Imports the blocks of a CAR file (v1 or v2) and pins the roots in its header, yielding one
     * result per root (check `pinError`), then the totals when `stats` is set. Import a partial CAR
     * with `localOnly`: Kubo 0.43 looks for a root's missing blocks on the network while pinning it,
     * so without it the call waits until its `timeout` and reports `context deadline exceeded`.
     */
    import: async function* (car: CarInput, options: DagImportOptions = {}): AsyncGenerator<DagImportResult> {
      if (typeof car === 'string')
        throw new InvalidArgumentError('car', 'a CAR file is binary: pass bytes or a stream')
      for await (const line of invoker.ndjson<RawImportLine>('dag/import', options, {
        body: entriesFromInput(car)
      })) {
        if (line.Root != null) {
          const pinError = line.Root.PinErrorMsg
          yield {
            root: { cid: line.Root.Cid['/'], ...(pinError == null || pinError === '' ? {} : { pinError }) }
          }
        } else if (line.Stats != null) {
          yield { stats: { blockCount: line.Stats.BlockCount, blockBytesCount: line.Stats.BlockBytesCount } }
        }
      }
    },

    /** Streams the DAG below `root` as a CARv1 file, blocks in depth-first, first-seen order. */
    export: async function* (root: string, options: DagExportOptions = {}): AsyncGenerator<Uint8Array> {
      yield* invoker.bytes('dag/export', options, { args: [checkPath(root, 'root')] })
    }
  }
}
