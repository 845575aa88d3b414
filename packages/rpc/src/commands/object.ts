import { type AddContent, entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list, type RequestShape } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkPath } from '../validate.js'

/**
 * What Kubo 0.28 and later answer to the object commands they removed. Those methods are kept so
 * that code written for older Kubo fails with Kubo's own message instead of a missing method.
 */
export const OBJECT_REMOVED_MESSAGE = "removed, use 'ipfs dag' or 'ipfs files' instead"

export interface ObjectChange {
  /** `add`: a link only in `after`; `remove`: a link only in `before`; `modify`: a link whose target changed (or the roots themselves, path `''`). */
  type: 'add' | 'remove' | 'modify'
  /** The link's name (path from the root); `''` when the two roots differ but cannot be compared link by link. */
  path: string
  /** The CID in `before`; absent for `add`. */
  before?: string
  /** The CID in `after`; absent for `remove`. */
  after?: string
}

interface RawChange {
  Type: number
  Path: string
  Before: { '/': string } | null
  After: { '/': string } | null
}

const CHANGE_TYPES = ['add', 'remove', 'modify'] as const

export interface ObjectPatchOptions extends CallOptions {
  /** Skip the UnixFS check, to patch dag-pb nodes that are not directories. */
  allowNonUnixfs?: boolean
  /** Accept a resulting node over 2 MiB, which bitswap cannot transfer to other peers. */
  allowBigBlock?: boolean
  /** Multibase of the CID in the result, e.g. `base32`. */
  cidBase?: string
}

export interface ObjectAddLinkOptions extends ObjectPatchOptions {
  /** Create the missing directories of a `name` like `a/b/c`. */
  create?: boolean
}

function checkLinkName(name: string): string {
  if (typeof name !== 'string' || name === '')
    throw new InvalidArgumentError('name', 'a link name cannot be empty')
  return name
}

/**
 * `object/*`: Kubo's deprecated dag-pb commands. Only `diff`, `patch.addLink` and `patch.rmLink`
 * still work (Kubo 0.28 removed the others; use `dag`, `files` or `block` instead). `object/patch`
 * itself is not a command, only their parent.
 */
export function createObjectCommands(invoker: Invoker) {
  async function removed(command: string, options: CallOptions, shape: RequestShape): Promise<never> {
    await invoker.none(command, options, shape)
    // Only a Kubo older than 0.28 gets here; its output is not what this client parses.
    throw new Error(
      `${command} answered, but this client treats it as removed (${OBJECT_REMOVED_MESSAGE}); use client.request('${command}', …) for Kubo < 0.28`
    )
  }

  return {
    /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `dag.put` (`storeCodec: 'dag-pb'`). */
    put: async (data: AddContent, options: CallOptions = {}): Promise<never> =>
      await removed('object/put', options, { body: entriesFromInput(data) }),

    /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `dag.stat` or `files.stat`. */
    stat: async (cid: string, options: CallOptions = {}): Promise<never> =>
      await removed('object/stat', options, { args: [checkPath(cid, 'cid')] }),

    /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `dag.get` (`outputCodec: 'dag-json'`, field `Data`). */
    data: async (cid: string, options: CallOptions = {}): Promise<never> =>
      await removed('object/data', options, { args: [checkPath(cid, 'cid')] }),

    /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `dag.get`. */
    get: async (cid: string, options: CallOptions = {}): Promise<never> =>
      await removed('object/get', options, { args: [checkPath(cid, 'cid')] }),

    /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `ls` or `dag.get` (field `Links`). */
    links: async (cid: string, options: CallOptions = {}): Promise<never> =>
      await removed('object/links', options, { args: [checkPath(cid, 'cid')] }),

    /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `files.mkdir`, or the empty directory `QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn`. */
    new: async (template?: string, options: CallOptions = {}): Promise<never> =>
      await removed('object/new', options, { args: template == null ? [] : [template] }),

    /** The links that differ between two dag-pb nodes (e.g. two versions of a directory). */
    diff: async (before: string, after: string, options: CallOptions = {}): Promise<ObjectChange[]> => {
      const args = [checkPath(before, 'before'), checkPath(after, 'after')]
      const raw = await invoker.json<{ Changes: RawChange[] | null }>('object/diff', options, { args })
      return list(raw.Changes).map(change => ({
        type: CHANGE_TYPES[change.Type] ?? 'modify',
        path: change.Path,
        ...(change.Before == null ? {} : { before: change.Before['/'] }),
        ...(change.After == null ? {} : { after: change.After['/'] })
      }))
    },

    patch: {
      /** Adds a named link to a small UnixFS directory and returns the new directory's CID (the original is unchanged). */
      addLink: async (
        root: string,
        name: string,
        target: string,
        options: ObjectAddLinkOptions = {}
      ): Promise<string> => {
        const args = [checkPath(root, 'root'), checkLinkName(name), checkPath(target, 'target')]
        return (await invoker.json<{ Hash: string }>('object/patch/add-link', options, { args })).Hash
      },

      /** Removes a named link from a small UnixFS directory and returns the new directory's CID. */
      rmLink: async (root: string, name: string, options: ObjectPatchOptions = {}): Promise<string> => {
        const args = [checkPath(root, 'root'), checkLinkName(name)]
        return (await invoker.json<{ Hash: string }>('object/patch/rm-link', options, { args })).Hash
      },

      /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `files.write` with `offset`. */
      appendData: async (cid: string, data: AddContent, options: CallOptions = {}): Promise<never> =>
        await removed('object/patch/append-data', options, {
          args: [checkPath(cid, 'cid')],
          body: entriesFromInput(data)
        }),

      /** @deprecated Removed in Kubo 0.28: Kubo answers "removed, use 'ipfs dag' or 'ipfs files' instead". Use `files.write`. */
      setData: async (cid: string, data: AddContent, options: CallOptions = {}): Promise<never> =>
        await removed('object/patch/set-data', options, {
          args: [checkPath(cid, 'cid')],
          body: entriesFromInput(data)
        })
    }
  }
}
