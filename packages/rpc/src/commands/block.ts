import { type AddContent, entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkPath } from '../validate.js'

export interface BlockReadOptions extends CallOptions {
  /** Answer from the local blockstore only: fail at once instead of searching the network for a missing block. */
  offline?: boolean
}

export interface BlockStatOptions extends BlockReadOptions {
  /** Multibase of the CID in the result, e.g. `base32`; CIDv0 is upgraded to CIDv1 for any base but base58btc. */
  cidBase?: string
}

export interface BlockPutOptions extends CallOptions {
  /** Codec of the CID Kubo returns (`raw`, `dag-pb`, `dag-cbor`, …); default `raw`. The bytes are not checked against it. */
  cidCodec?: string
  /** Hash function, e.g. `sha2-256` (Kubo's default, from `Import.HashFunction`), `blake3`. */
  mhtype?: string
  /** Digest length in bytes; default -1, the hash function's own length. */
  mhlen?: number
  /** Pin the block recursively; default false. */
  pin?: boolean
  /** Accept a block over 2 MiB, which bitswap cannot transfer to other peers. */
  allowBigBlock?: boolean
  /** Deprecated in Kubo: `v0` for a CIDv0 (dag-pb, sha2-256); cannot be combined with a `cidCodec` other than `raw`. */
  format?: string
  /** Multibase of the CID in the result, e.g. `base32`. */
  cidBase?: string
}

export interface BlockRmOptions extends CallOptions {
  /** Do not report blocks that are not in the blockstore as errors. */
  force?: boolean
  /** Yield only the blocks that could not be removed. */
  quiet?: boolean
  /** Multibase of the CIDs in the results. */
  cidBase?: string
}

export interface BlockStat {
  cid: string
  /** Size of the block in bytes. */
  size: number
}

export interface BlockRmResult {
  cid: string
  /** Why the block was not removed (e.g. `pinned: recursive`); absent when it was removed. */
  error?: string
}

/** Bytes to store as one block: a blob, a string (UTF-8) or a stream of chunks. */
export type BlockInput = AddContent

/** `block/*`: raw blocks, addressed by CID. */
export function createBlockCommands(invoker: Invoker) {
  return {
    /** The CID and size (bytes) of a block. */
    stat: async (cid: string, options: BlockStatOptions = {}): Promise<BlockStat> => {
      const raw = await invoker.json<{ Key: string; Size: number }>('block/stat', options, {
        args: [checkPath(cid, 'cid')]
      })
      return { cid: raw.Key, size: raw.Size }
    },

    /** Streams a block's raw bytes. */
    get: async function* (cid: string, options: BlockReadOptions = {}): AsyncGenerator<Uint8Array> {
      yield* invoker.bytes('block/get', options, { args: [checkPath(cid, 'cid')] })
    },

    /** Stores bytes as one block and returns its CID (CIDv1 `raw` unless `cidCodec` or `format` say otherwise) and size in bytes. */
    put: async (data: BlockInput, options: BlockPutOptions = {}): Promise<BlockStat> => {
      if (options.format != null && options.cidCodec != null && options.cidCodec !== 'raw') {
        throw new InvalidArgumentError(
          'format',
          `cannot be combined with cidCodec "${options.cidCodec}"; use cidCodec alone`
        )
      }
      const raw = await invoker.json<{ Key: string; Size: number }>('block/put', options, {
        body: entriesFromInput(data)
      })
      return { cid: raw.Key, size: raw.Size }
    },

    /**
     * Removes blocks from the local blockstore, yielding one result per CID; a block that cannot be
     * removed (pinned, or missing without `force`) is reported in `error` and the others still go.
     */
    rm: async function* (
      cids: string | readonly string[],
      options: BlockRmOptions = {}
    ): AsyncGenerator<BlockRmResult> {
      const args = typeof cids === 'string' ? [cids] : [...cids]
      if (args.length === 0) throw new InvalidArgumentError('cids', 'give at least one CID to remove')
      for (const cid of args) checkPath(cid, 'cids')
      for await (const raw of invoker.ndjson<{ Hash?: string; Error?: string }>('block/rm', options, {
        args
      })) {
        yield { cid: raw.Hash ?? '', ...(raw.Error == null || raw.Error === '' ? {} : { error: raw.Error }) }
      }
    }
  }
}
