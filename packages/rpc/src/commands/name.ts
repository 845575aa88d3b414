import { entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions, Duration } from '../options.js'
import { checkPath, checkPeerId } from '../validate.js'
import type { IpnsBase } from './key.js'

export interface NamePublishOptions extends CallOptions {
  /** The key to publish with, by name (`ipfs key ls`) or peer id; default `self`. */
  key?: string
  /** Check that the path resolves before publishing; default true. */
  resolve?: boolean
  /** How long the signed record stays valid; Kubo's default is 48h. */
  lifetime?: Duration
  /** How long resolvers may cache the record (at most `lifetime`); Kubo's default is 1h. */
  ttl?: Duration
  /** Also sign the record the V1 way, for old resolvers; default true. */
  v1compat?: boolean
  /** Publish to the local datastore even when the node cannot reach the network. */
  allowOffline?: boolean
  /** Publish through `Ipns.DelegatedPublishers` only, without the DHT. */
  allowDelegated?: boolean
  /** A sequence number for the record; must be higher than the current one. */
  sequence?: number | bigint
  // Kubo declares `ipns-base` here too but ignores it (the name is always base36), so it is left out.
}

export interface NameResolveOptions extends CallOptions {
  /** Keep resolving while the result is another IPNS name; default true. */
  recursive?: boolean
  /** Skip the node's cache of resolved names. */
  nocache?: boolean
  /** How many DHT records to collect before choosing the best. */
  dhtRecordCount?: number
  /** How long to collect DHT records; 0 for no limit. Kubo's default is 1m. */
  dhtTimeout?: Duration
}

export interface NameResolveStreamOptions extends NameResolveOptions {
  /** Yield each better path as it is found instead of waiting for the final one. */
  stream: true
}

export interface NameInspectOptions extends CallOptions {
  /** An IPNS name (`k51…`) or peer id to check the record's signature against. */
  verify?: string
  /** Include a hex dump of the record; default true. */
  dump?: boolean
}

export interface NamePutOptions extends CallOptions {
  /** Skip Kubo's checks of signature, sequence number and size. */
  force?: boolean
  /** Store the record locally without sending it to the network. */
  allowOffline?: boolean
  /** Send the record through `Ipns.DelegatedPublishers` only, without the DHT. */
  allowDelegated?: boolean
}

export interface NamePubsubSubsOptions extends CallOptions {
  /** How the names are written; default `base36`. */
  ipnsBase?: IpnsBase
}

export interface IpnsEntry {
  /** The IPNS name (`k51…`). */
  name: string
  /** The path it points to, e.g. `/ipfs/bafy…`. */
  value: string
}

export interface IpnsRecordInfo {
  /** The path the record points to; absent if it could not be read. */
  value?: string
  /** 0 means "valid until `validity`" (EOL), the only type defined. */
  validityType?: number
  /** When the record expires. */
  validity?: Date
  sequence?: number
  /** How long resolvers may cache the record (ms). */
  ttl?: number
}

export interface IpnsInspection {
  entry: IpnsRecordInfo
  /** The record's protobuf size in bytes. */
  protobufSize: number
  /** `V1+V2` (with `v1compat`), `V2`, or `Unknown`. */
  signatureType: string
  /** A hex dump of the record (`hexdump -C` style); empty with `dump: false`. */
  hexDump: string
  /** Present when `verify` was given. */
  validation?: {
    valid: boolean
    /** Why it is not valid; empty when valid. */
    reason: string
    /** The name it was checked against. */
    name: string
  }
}

interface RawIpnsEntry {
  Name: string
  Value: string
}

interface RawInspection {
  Entry: {
    Value?: string
    ValidityType?: number | null
    Validity?: string | null
    Sequence?: number | null
    TTL?: number | null
  }
  PbSize: number
  SignatureType: string
  HexDump: string
  Validation?: { Valid: boolean; Reason: string; Name: string } | null
}

const NANOSECONDS_PER_MILLISECOND = 1e6

/** Kubo parses Go durations; a number is taken as milliseconds. */
export function toGoDuration(value: Duration | undefined, argument: string): string | undefined {
  if (value == null) return undefined
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidArgumentError(argument, `${value} is not a duration in ms`)
    return `${value}ms`
  }
  return value
}

/** Accepts `k51…`, `12D3KooW…` or `/ipns/<either>`; returns the bare name. */
export function checkIpnsName(value: string, argument = 'name'): string {
  if (typeof value !== 'string')
    throw new InvalidArgumentError(argument, 'expected an IPNS name (k51…) or peer id')
  return checkPeerId(value.startsWith('/ipns/') ? value.slice('/ipns/'.length) : value, argument)
}

function checkRecord(record: Uint8Array, argument = 'record'): Uint8Array {
  if (!(record instanceof Uint8Array) || record.byteLength === 0) {
    throw new InvalidArgumentError(argument, 'expected the IPNS record bytes (e.g. from name.get)')
  }
  return record
}

const toIpnsEntry = (raw: RawIpnsEntry): IpnsEntry => ({ name: raw.Name, value: raw.Value })

/** `name/*`: publishing and resolving IPNS names. */
export function createNameCommands(invoker: Invoker) {
  function resolveRequest(name: string | undefined, options: NameResolveOptions) {
    if (name != null && (typeof name !== 'string' || name.trim() === '')) {
      throw new InvalidArgumentError('name', 'expected an IPNS name, peer id or DNSLink domain')
    }
    return {
      args: name == null ? [] : [name],
      omit: ['dhtTimeout'],
      options: { 'dht-timeout': toGoDuration(options.dhtTimeout, 'dhtTimeout') }
    }
  }

  /**
   * Resolves an IPNS name (or DNSLink domain) to the path it points to; without `name`, this node's
   * own. With `stream: true`, yields each better path as it is found.
   */
  function resolve(options: NameResolveStreamOptions): AsyncGenerator<string>
  function resolve(name: string | undefined, options: NameResolveStreamOptions): AsyncGenerator<string>
  function resolve(options?: NameResolveOptions): Promise<string>
  function resolve(name?: string, options?: NameResolveOptions): Promise<string>
  function resolve(
    nameOrOptions?: string | NameResolveOptions,
    maybeOptions: NameResolveOptions = {}
  ): AsyncGenerator<string> | Promise<string> {
    const name = typeof nameOrOptions === 'object' ? undefined : nameOrOptions
    const options = typeof nameOrOptions === 'object' ? nameOrOptions : maybeOptions
    if ((options as Partial<NameResolveStreamOptions>).stream === true) {
      // Built (and so validated) now, although the stream sends nothing until iterated.
      const request = resolveRequest(name, options)
      return (async function* () {
        for await (const raw of invoker.ndjson<{ Path: string }>('name/resolve', options, request))
          yield raw.Path
      })()
    }
    return (async () =>
      (await invoker.json<{ Path: string }>('name/resolve', options, resolveRequest(name, options))).Path)()
  }

  return {
    /** Publishes `path` under an IPNS name (this node's own unless `key` says otherwise). */
    publish: async (path: string, options: NamePublishOptions = {}): Promise<IpnsEntry> =>
      toIpnsEntry(
        await invoker.json<RawIpnsEntry>('name/publish', options, {
          args: [checkPath(path)],
          omit: ['lifetime', 'ttl'],
          options: {
            lifetime: toGoDuration(options.lifetime, 'lifetime'),
            ttl: toGoDuration(options.ttl, 'ttl')
          }
        })
      ),

    resolve,

    /** Decodes an IPNS record's fields and, with `verify`, checks its signature (experimental in Kubo). */
    inspect: async (record: Uint8Array, options: NameInspectOptions = {}): Promise<IpnsInspection> => {
      checkRecord(record)
      const verify = options.verify == null ? undefined : checkIpnsName(options.verify, 'verify')
      const raw = await invoker.json<RawInspection>('name/inspect', options, {
        body: entriesFromInput(record),
        options: { verify }
      })
      const entry = raw.Entry
      return {
        entry: {
          ...(entry.Value == null || entry.Value === '' ? {} : { value: entry.Value }),
          ...(entry.ValidityType == null ? {} : { validityType: entry.ValidityType }),
          ...(entry.Validity == null ? {} : { validity: new Date(entry.Validity) }),
          ...(entry.Sequence == null ? {} : { sequence: entry.Sequence }),
          ...(entry.TTL == null ? {} : { ttl: entry.TTL / NANOSECONDS_PER_MILLISECOND })
        },
        protobufSize: raw.PbSize,
        signatureType: raw.SignatureType,
        hexDump: raw.HexDump,
        ...(raw.Validation == null
          ? {}
          : {
              validation: {
                valid: raw.Validation.Valid,
                reason: raw.Validation.Reason,
                name: raw.Validation.Name
              }
            })
      }
    },

    /** Streams the signed IPNS record (protobuf bytes) the routing system holds for a name (experimental in Kubo). */
    get: (name: string, options: CallOptions = {}): AsyncIterable<Uint8Array> =>
      invoker.bytes('name/get', options, { args: [checkIpnsName(name)] }),

    /**
     * Stores a record signed elsewhere (e.g. from `get` on another node) under its name; Kubo refuses
     * a record older than the one it has unless `force` (experimental in Kubo).
     */
    put: async (name: string, record: Uint8Array, options: NamePutOptions = {}): Promise<IpnsEntry> =>
      toIpnsEntry(
        await invoker.json<RawIpnsEntry>('name/put', options, {
          args: [checkIpnsName(name)],
          body: entriesFromInput(checkRecord(record))
        })
      ),

    /** IPNS over pubsub (needs `Ipns.UsePubsub` in the config; experimental in Kubo). */
    pubsub: {
      /** Stops following a name over pubsub; resolves with whether there was a subscription. */
      cancel: async (name: string, options: CallOptions = {}): Promise<boolean> =>
        (
          await invoker.json<{ Canceled: boolean }>('name/pubsub/cancel', options, {
            args: [checkIpnsName(name)]
          })
        ).Canceled,

      /** Whether IPNS over pubsub is enabled. */
      state: async (options: CallOptions = {}): Promise<boolean> =>
        (await invoker.json<{ Enabled: boolean }>('name/pubsub/state', options)).Enabled,

      /** The names followed over pubsub, as `/ipns/<name>` paths. */
      subs: async (options: NamePubsubSubsOptions = {}): Promise<string[]> =>
        list((await invoker.json<{ Strings: string[] | null }>('name/pubsub/subs', options)).Strings)
    }
  }
}
