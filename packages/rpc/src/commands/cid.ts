import { InvalidArgumentError, KuboRpcError } from '../errors.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { type MultibaseInfo, toMultibaseInfos } from './multibase.js'

export interface CidInspection {
  /** The CID as given. */
  cid: string
  version: 0 | 1
  /** How the CID is written (implicit `base58btc`, prefix `z`, for CIDv0). */
  multibase: { prefix: string; name: string }
  /** What the data is, e.g. `{ code: 113, name: 'dag-cbor' }` (`unknown` for codes Kubo has no name for). */
  multicodec: { code: number; name: string }
  /** How the data was hashed: `digest` in hex, `length` in bytes. */
  multihash: { code: number; name: string; length: number; digest: string }
  /** The same CID as CIDv0, when it can be one (dag-pb, sha2-256, 32 bytes). */
  cidV0?: string
  /** The same CID as CIDv1, in base32 (base36 for libp2p-key). */
  cidV1: string
}

interface RawInspection {
  cid: string
  version: number
  multibase: { prefix: string; name: string }
  multicodec: { code: number; name: string }
  multihash: { code: number; name: string; length: number; digest: string }
  cidV0?: string
  cidV1: string
  errorMsg?: string
}

export interface CidFormatOptions extends CallOptions {
  /** printf-style template: `%s` the CID (default), `%b` the base, `%v` version, `%c` codec, `%h` hash, `%P` the prefix, … (see `ipfs cid format --help`). */
  format?: string
  /** Convert to this CID version; the base stays the input's unless `base` is given (so CIDv0 → CIDv1 stays base58btc). CIDv0 needs dag-pb and base58btc. */
  version?: 0 | 1
  /** Convert to this codec, e.g. `raw`, `dag-pb`, `libp2p-key` (the hash stays). */
  codec?: string
  /** Write the CID in this multibase, e.g. `base16`; implies CIDv1 unless `version` is 0. */
  base?: string
}

export interface CidFormatResult {
  /** The CID as given. */
  cid: string
  /** The formatted CID; `''` when it could not be formatted. */
  formatted: string
  /** Why this CID could not be formatted (it is not a CID, or cannot take the conversion); absent on success. */
  error?: string
}

export interface CidCodecsOptions extends CallOptions {
  /** Only the codecs Kubo can encode or decode. */
  supported?: boolean
}

export interface CodecInfo {
  /** e.g. `dag-cbor`, `sha2-256`. */
  name: string
  /** The multicodec code, e.g. 113 (0x71). */
  code: number
}

interface RawFormatResult {
  CidStr: string
  Formatted: string
  ErrorMsg: string
}

const FORMAT_OPTION_NAMES = { format: 'f', version: 'v', codec: 'mc', base: 'b' }

function toCidArgs(cids: string | readonly string[]): string[] {
  const args = typeof cids === 'string' ? [cids] : [...cids]
  if (args.length === 0) throw new InvalidArgumentError('cids', 'give at least one CID')
  for (const cid of args) {
    if (typeof cid !== 'string' || cid.trim() === '')
      throw new InvalidArgumentError('cids', 'a CID cannot be empty')
  }
  return args
}

function toFormatResult(raw: RawFormatResult): CidFormatResult {
  return {
    cid: raw.CidStr,
    formatted: raw.Formatted,
    ...(raw.ErrorMsg === '' ? {} : { error: raw.ErrorMsg })
  }
}

function toCodecInfos(raw: Array<{ Code: number; Name: string }> | null): CodecInfo[] {
  return (raw ?? []).map(codec => ({ name: codec.Name, code: codec.Code })).sort((a, b) => a.code - b.code)
}

/**
 * `cid/*`: take CIDs apart and convert them. These run in Kubo without touching its repo. CIDs are
 * not parsed here, as Kubo reads every multibase and reports a bad CID per item.
 */
export function createCidCommands(invoker: Invoker) {
  return {
    /** Breaks a CID into version, multibase, codec and multihash, with its CIDv0 and CIDv1 forms. */
    inspect: async (cid: string, options: CallOptions = {}): Promise<CidInspection> => {
      if (typeof cid !== 'string' || cid.trim() === '')
        throw new InvalidArgumentError('cid', 'expected a CID, got nothing')
      const raw = await invoker.json<RawInspection>('cid/inspect', options, { args: [cid] })
      // Kubo answers 200 with the reason in `errorMsg` (and a hint when the value is a peer id).
      if (raw.errorMsg != null && raw.errorMsg !== '')
        throw new KuboRpcError('cid/inspect', 200, raw.errorMsg, 1)
      return {
        cid: raw.cid,
        version: raw.version === 0 ? 0 : 1,
        multibase: raw.multibase,
        multicodec: raw.multicodec,
        multihash: raw.multihash,
        ...(raw.cidV0 == null || raw.cidV0 === '' ? {} : { cidV0: raw.cidV0 }),
        cidV1: raw.cidV1
      }
    },

    /** Formats and converts CIDs, yielding one result per CID, in order; a CID that fails carries `error`. */
    format: async function* (
      cids: string | readonly string[],
      options: CidFormatOptions = {}
    ): AsyncGenerator<CidFormatResult> {
      const args = toCidArgs(cids)
      if (options.format != null && !options.format.includes('%')) {
        throw new InvalidArgumentError('format', `"${options.format}" has no % placeholder (e.g. "%s")`)
      }
      for await (const raw of invoker.ndjson<RawFormatResult>('cid/format', options, {
        args,
        rename: FORMAT_OPTION_NAMES
      })) {
        yield toFormatResult(raw)
      }
    },

    /** Converts CIDs to CIDv1 in base32, the case-insensitive form (e.g. for subdomain gateways). */
    base32: async function* (
      cids: string | readonly string[],
      options: CallOptions = {}
    ): AsyncGenerator<CidFormatResult> {
      for await (const raw of invoker.ndjson<RawFormatResult>('cid/base32', options, {
        args: toCidArgs(cids)
      })) {
        yield toFormatResult(raw)
      }
    },

    /** The multibase encodings Kubo knows, sorted by prefix code. */
    bases: async (options: CallOptions = {}): Promise<MultibaseInfo[]> =>
      toMultibaseInfos(
        await invoker.json<Array<{ Code: number; Name: string }> | null>('cid/bases', options)
      ),

    /** The IPLD codecs (multicodecs tagged `ipld`) Kubo knows, sorted by code. */
    codecs: async (options: CidCodecsOptions = {}): Promise<CodecInfo[]> =>
      toCodecInfos(await invoker.json<Array<{ Code: number; Name: string }> | null>('cid/codecs', options)),

    /** The hash functions Kubo accepts in CIDs, sorted by code. */
    hashes: async (options: CallOptions = {}): Promise<CodecInfo[]> =>
      toCodecInfos(await invoker.json<Array<{ Code: number; Name: string }> | null>('cid/hashes', options))
  }
}
