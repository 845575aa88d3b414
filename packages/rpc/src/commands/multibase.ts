import { type AddContent, entriesFromInput } from '../add-source.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'

export interface MultibaseInfo {
  /** e.g. `base32`, `base58btc`. */
  name: string
  /** The prefix character's code point, e.g. 98 for `b` (base32); 0 for `identity`. */
  code: number
  /** The prefix character itself, e.g. `b`; `\0` for `identity`. */
  prefix: string
}

export interface MultibaseEncodeOptions extends CallOptions {
  /** The multibase to encode with, by name (see `list()`); default `base64url`. */
  base?: string
}

/** Data Kubo reads whole: bytes, a string (UTF-8) or a stream of chunks. */
export type MultibaseInput = AddContent

interface RawCodeAndName {
  Code: number
  Name: string
}

/** Kubo lists bases from a Go map, in random order; sorted by code they read the same every time. */
export function toMultibaseInfos(raw: RawCodeAndName[] | null): MultibaseInfo[] {
  return (raw ?? [])
    .map(base => ({ name: base.Name, code: base.Code, prefix: String.fromCodePoint(base.Code) }))
    .sort((a, b) => a.code - b.code)
}

const decoder = new TextDecoder()

async function concat(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return new Uint8Array(Buffer.concat(parts))
}

/**
 * `multibase/*`: encode and decode data with multibase prefixes. Kubo reads the whole input and
 * writes the whole output in memory, so these resolve with the complete result.
 */
export function createMultibaseCommands(invoker: Invoker) {
  return {
    /** The multibase encodings Kubo knows, sorted by prefix code. */
    list: async (options: CallOptions = {}): Promise<MultibaseInfo[]> =>
      toMultibaseInfos(await invoker.json<RawCodeAndName[] | null>('multibase/list', options)),

    /** Encodes data as a multibase string, prefix included (e.g. `f68656c6c6f` for `hello` in base16). */
    encode: async (data: MultibaseInput, options: MultibaseEncodeOptions = {}): Promise<string> =>
      decoder.decode(
        await concat(
          invoker.bytes('multibase/encode', options, { body: entriesFromInput(data), rename: { base: 'b' } })
        )
      ),

    /** Decodes a multibase string (any base Kubo knows, told by its prefix) into bytes. */
    decode: async (encoded: MultibaseInput, options: CallOptions = {}): Promise<Uint8Array> =>
      await concat(invoker.bytes('multibase/decode', options, { body: entriesFromInput(encoded) })),

    /** Decodes a multibase string and encodes the bytes again in another base. */
    transcode: async (encoded: MultibaseInput, options: MultibaseEncodeOptions = {}): Promise<string> =>
      decoder.decode(
        await concat(
          invoker.bytes('multibase/transcode', options, {
            body: entriesFromInput(encoded),
            rename: { base: 'b' }
          })
        )
      )
  }
}
