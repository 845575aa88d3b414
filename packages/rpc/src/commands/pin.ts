import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkCid, checkPath } from '../validate.js'

/** Kubo's limit on pin names, in UTF-8 bytes. */
const MAX_PIN_NAME_BYTES = 255

export type PinType = 'recursive' | 'direct' | 'indirect'

export interface FastProvideOptions {
  /** Announce the root CID to the DHT right away; default `Import.FastProvideRoot`. */
  fastProvideRoot?: boolean
  /** Walk and announce the whole DAG (per `Provide.Strategy`) right away; default `Import.FastProvideDAG`. */
  fastProvideDag?: boolean
  /** Wait for that announcement before answering; default `Import.FastProvideWait`. */
  fastProvideWait?: boolean
}

export interface PinAddOptions extends CallOptions, FastProvideOptions {
  /** Pin the whole DAG (default true); false pins only the given block (a direct pin). */
  recursive?: boolean
  /** A name for the pin(s); pinning again with another name renames the pin. At most 255 bytes. */
  name?: string
  /** Called about every 500 ms while blocks are fetched: blocks (DAG nodes) and bytes processed so far. */
  onProgress?: (nodes: number, bytes: number) => void
}

export interface PinRmOptions extends CallOptions {
  /** Remove a recursive pin (default true); false removes a direct pin. */
  recursive?: boolean
}

export interface PinLsOptions extends CallOptions {
  /** Which pins to list; default `all`. */
  type?: PinType | 'all'
  /** Only pins whose name contains this (case-sensitive); implies `names`. */
  name?: string
  /** Include pin names (slower). */
  names?: boolean
  /**
   * Have Kubo send pins as it finds them instead of collecting them all first (sooner first
   * result, less daemon memory); without it, Kubo answers once, ordered by CID.
   */
  stream?: boolean
}

export interface Pin {
  cid: string
  type: PinType
  /** The pin's name, when it has one and `names` (or `name`) was asked for. */
  name?: string
  /** For an indirect pin asked about by CID: the recursive pin it is reached through. */
  via?: string
}

export interface PinUpdateOptions extends CallOptions, FastProvideOptions {
  /** Remove the old pin (default true). */
  unpin?: boolean
}

export interface PinUpdateResult {
  /** The CID the old path resolved to. */
  from: string
  /** The CID now pinned. */
  to: string
}

export interface PinVerifyOptions extends CallOptions {
  /** Also report pins that are complete (by default only broken ones are reported). */
  verbose?: boolean
  /** Leave out `badNodes` (only say which pins are broken). */
  quiet?: boolean
}

export interface PinVerifyResult {
  /** The recursive pin checked ('' on an `error` line). */
  cid: string
  /** Whether every block of the pin's DAG is present and valid. */
  ok: boolean
  /** The blocks that are missing or invalid, each with Kubo's reason ([] when `quiet`). */
  badNodes: Array<{ cid: string; error: string }>
  /** Set when Kubo could not list the pins; the stream ends after it. */
  error?: string
}

export type RemotePinStatus = 'queued' | 'pinning' | 'pinned' | 'failed'

export interface RemotePin {
  cid: string
  name: string
  status: RemotePinStatus
}

export interface RemoteServiceOptions extends CallOptions {
  /** The remote pinning service, by the name given to `pin.remote.service.add`. */
  service: string
}

export interface RemotePinAddOptions extends RemoteServiceOptions {
  /** A name for the pin on the service. */
  name?: string
  /** Return once the service has queued the pin, instead of waiting until it is pinned. */
  background?: boolean
}

export interface RemotePinQueryOptions extends RemoteServiceOptions {
  /** Only pins with exactly this name. */
  name?: string
  /** Only pins of these CIDs. */
  cid?: string | readonly string[]
  /** Only pins in these states; default `['pinned']`. */
  status?: RemotePinStatus | readonly RemotePinStatus[]
}

export interface RemotePinRmOptions extends RemotePinQueryOptions {
  /** Allow removing more than one matching pin. */
  force?: boolean
}

export interface RemotePinServiceLsOptions extends CallOptions {
  /** Ask each service for its pin counts (`stat`). */
  stat?: boolean
}

export interface RemotePinService {
  /** The name the service was added under. */
  service: string
  /** Its API endpoint, normalized by Kubo (no trailing slash). */
  endpoint: string
  /** Only with the `stat` option. */
  stat?: {
    /** `invalid` when the service could not be reached or refused the key. */
    status: 'valid' | 'invalid'
    /** Pins per state; missing when `status` is `invalid`. */
    pinCount?: { queued: number; pinning: number; pinned: number; failed: number }
  }
}

interface RawRemotePin {
  Status: RemotePinStatus
  Cid: string
  Name: string
}

interface RawServiceDetails {
  Service: string
  ApiEndpoint: string
  Stat?: {
    Status: 'valid' | 'invalid'
    PinCount?: { Queued: number; Pinning: number; Pinned: number; Failed: number }
  }
}

const PIN_TYPES = new Set(['recursive', 'direct', 'indirect', 'all'])
const REMOTE_STATUSES = new Set(['queued', 'pinning', 'pinned', 'failed'])
const INDIRECT_THROUGH = 'indirect through '

function checkPinName(value: string | undefined, argument = 'name'): void {
  if (value == null) return
  if (typeof value !== 'string') throw new InvalidArgumentError(argument, 'a pin name must be a string')
  const bytes = new TextEncoder().encode(value).byteLength
  if (bytes > MAX_PIN_NAME_BYTES)
    throw new InvalidArgumentError(
      argument,
      `the pin name is ${bytes} bytes; Kubo allows at most ${MAX_PIN_NAME_BYTES}`
    )
}

function toPaths(path: string | readonly string[], argument = 'path'): string[] {
  const paths = typeof path === 'string' ? [path] : [...path]
  if (paths.length === 0) throw new InvalidArgumentError(argument, 'expected at least one CID or path')
  for (const item of paths) checkPath(item, argument)
  return paths
}

function toPin(cid: string, type: string, name: string | undefined): Pin {
  // Asking about a CID reports an indirect pin as "indirect through <root>".
  const via = type.startsWith(INDIRECT_THROUGH) ? type.slice(INDIRECT_THROUGH.length) : undefined
  return {
    cid,
    type: via == null ? (type as PinType) : 'indirect',
    ...(name == null || name === '' ? {} : { name }),
    ...(via == null ? {} : { via })
  }
}

function checkService(options: RemoteServiceOptions): void {
  if (typeof options?.service !== 'string' || options.service === '') {
    throw new InvalidArgumentError('service', 'name the remote pinning service (see pin.remote.service.ls())')
  }
}

function checkRemoteQuery(options: RemotePinQueryOptions): void {
  checkService(options)
  checkPinName(options.name)
  const cids = options.cid == null ? [] : typeof options.cid === 'string' ? [options.cid] : options.cid
  for (const cid of cids) checkCid(cid, 'cid')
  const statuses =
    options.status == null ? [] : typeof options.status === 'string' ? [options.status] : options.status
  for (const status of statuses) {
    if (!REMOTE_STATUSES.has(status))
      throw new InvalidArgumentError('status', `"${status}" is not one of queued, pinning, pinned, failed`)
  }
}

function toRemotePin(raw: RawRemotePin): RemotePin {
  return { cid: raw.Cid, name: raw.Name, status: raw.Status }
}

/** `pin/*`: keep content in the local repo (safe from `repo gc`), or on remote pinning services. */
export function createPinCommands(invoker: Invoker) {
  const serviceCommands = {
    /** Stores a remote pinning service's endpoint and key in the config under `name`. */
    add: async (name: string, endpoint: string, key: string, options: CallOptions = {}): Promise<void> => {
      if (typeof name !== 'string' || name === '')
        throw new InvalidArgumentError('name', 'a service name cannot be empty')
      let url: URL
      try {
        url = new URL(endpoint)
      } catch (error) {
        throw new InvalidArgumentError('endpoint', `"${endpoint}" is not a URL`, { cause: error })
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new InvalidArgumentError('endpoint', `"${endpoint}" is not an http(s) URL`)
      if (typeof key !== 'string') throw new InvalidArgumentError('key', 'the service key must be a string')
      await invoker.none('pin/remote/service/add', options, { args: [name, endpoint, key] })
    },

    /** The configured remote pinning services, by name. */
    ls: async (options: RemotePinServiceLsOptions = {}): Promise<RemotePinService[]> => {
      const raw = await invoker.json<{ RemoteServices: RawServiceDetails[] | null }>(
        'pin/remote/service/ls',
        options
      )
      return list(raw.RemoteServices).map(service => ({
        service: service.Service,
        endpoint: service.ApiEndpoint,
        ...(service.Stat == null
          ? {}
          : {
              stat: {
                status: service.Stat.Status,
                ...(service.Stat.PinCount == null
                  ? {}
                  : {
                      pinCount: {
                        queued: service.Stat.PinCount.Queued,
                        pinning: service.Stat.PinCount.Pinning,
                        pinned: service.Stat.PinCount.Pinned,
                        failed: service.Stat.PinCount.Failed
                      }
                    })
              }
            })
      }))
    },

    /** Removes a remote pinning service from the config (no error when there is none by that name). */
    rm: async (name: string, options: CallOptions = {}): Promise<void> => {
      if (typeof name !== 'string' || name === '')
        throw new InvalidArgumentError('name', 'a service name cannot be empty')
      await invoker.none('pin/remote/service/rm', options, { args: [name] })
    }
  }

  const remote = {
    /** Asks a remote pinning service to pin `path`; by default waits until it reports `pinned`. */
    add: async (path: string, options: RemotePinAddOptions): Promise<RemotePin> => {
      checkService(options)
      checkPinName(options.name)
      return toRemotePin(
        await invoker.json<RawRemotePin>('pin/remote/add', options, { args: [checkPath(path)] })
      )
    },

    /** The pins on a remote pinning service that match the query (by default those `pinned`). */
    ls: async function* (options: RemotePinQueryOptions): AsyncGenerator<RemotePin> {
      checkRemoteQuery(options)
      for await (const raw of invoker.ndjson<RawRemotePin>('pin/remote/ls', options)) yield toRemotePin(raw)
    },

    /** Removes the pins matching the query from a remote pinning service (more than one only with `force`). */
    rm: async (options: RemotePinRmOptions): Promise<void> => {
      checkRemoteQuery(options)
      await invoker.none('pin/remote/rm', options)
    },

    service: serviceCommands
  }

  return {
    /** Pins content (recursively by default) and resolves with the pinned CIDs, in the order given. */
    add: async (path: string | readonly string[], options: PinAddOptions = {}): Promise<string[]> => {
      const paths = toPaths(path)
      checkPinName(options.name)
      const onProgress = options.onProgress
      if (onProgress == null) {
        return list(
          (
            await invoker.json<{ Pins: string[] | null }>('pin/add', options, {
              args: paths,
              omit: ['onProgress']
            })
          ).Pins
        )
      }
      let pins: string[] = []
      for await (const raw of invoker.ndjson<{ Pins?: string[] | null; Progress?: number; Bytes?: number }>(
        'pin/add',
        options,
        {
          args: paths,
          omit: ['onProgress'],
          options: { progress: true }
        }
      )) {
        if (raw.Pins != null) pins = raw.Pins
        else onProgress(raw.Progress ?? 0, raw.Bytes ?? 0)
      }
      return pins
    },

    /** Removes pins and resolves with the unpinned CIDs; the content stays until `repo gc`. */
    rm: async (path: string | readonly string[], options: PinRmOptions = {}): Promise<string[]> =>
      list((await invoker.json<{ Pins: string[] | null }>('pin/rm', options, { args: toPaths(path) })).Pins),

    /**
     * Lists pins: all of them, or (with `paths`) how each given CID is pinned — then Kubo fails
     * if one of them is not pinned.
     */
    ls: async function* (
      paths?: string | readonly string[] | PinLsOptions,
      options: PinLsOptions = {}
    ): AsyncGenerator<Pin> {
      if (paths != null && typeof paths === 'object' && !Array.isArray(paths)) {
        yield* createPinCommands(invoker).ls(undefined, paths as PinLsOptions)
        return
      }
      const args = paths == null ? [] : toPaths(paths as string | readonly string[])
      if (options.type != null && !PIN_TYPES.has(options.type)) {
        throw new InvalidArgumentError(
          'type',
          `"${options.type}" is not one of direct, indirect, recursive, all`
        )
      }
      checkPinName(options.name)
      if (options.stream === true) {
        for await (const raw of invoker.ndjson<{ Cid: string; Type: string; Name?: string }>(
          'pin/ls',
          options,
          { args }
        )) {
          yield toPin(raw.Cid, raw.Type, raw.Name)
        }
        return
      }
      const raw = await invoker.json<{ Keys?: Record<string, { Type: string; Name: string }> | null }>(
        'pin/ls',
        options,
        { args }
      )
      for (const [cid, pin] of Object.entries(raw.Keys ?? {})) yield toPin(cid, pin.Type, pin.Name)
    },

    /** Moves a recursive pin from one CID to another, walking only the parts of the new DAG that differ. */
    update: async (from: string, to: string, options: PinUpdateOptions = {}): Promise<PinUpdateResult> => {
      const raw = await invoker.json<{ Pins: string[] | null }>('pin/update', options, {
        args: [checkPath(from, 'from'), checkPath(to, 'to')]
      })
      const [oldCid = '', newCid = ''] = list(raw.Pins)
      return { from: oldCid, to: newCid }
    },

    /** Checks that every recursive pin's DAG is complete in the local repo; yields broken pins (all with `verbose`). */
    verify: async function* (options: PinVerifyOptions = {}): AsyncGenerator<PinVerifyResult> {
      if (options.verbose === true && options.quiet === true)
        throw new InvalidArgumentError('quiet', 'verbose and quiet cannot be used together')
      for await (const raw of invoker.ndjson<{
        Cid?: string
        Err?: string
        Ok?: boolean
        BadNodes?: Array<{ Cid: string; Err: string }> | null
      }>('pin/verify', options)) {
        yield {
          cid: raw.Cid ?? '',
          ok: raw.Ok === true,
          badNodes: list(raw.BadNodes).map(node => ({ cid: node.Cid, error: node.Err })),
          ...(raw.Err == null || raw.Err === '' ? {} : { error: raw.Err })
        }
      }
    },

    remote
  }
}
