import { entriesFromInput } from '../add-source.js'
import { InvalidArgumentError } from '../errors.js'
import type { Invoker } from '../invoker.js'
import type { CallOptions } from '../options.js'

/** Kubo's config as JSON, keys exactly as Kubo writes them (`Addresses.Swarm`, `Datastore.StorageMax`, …). */
export type KuboConfig = { [key: string]: unknown }

/** A value to store: strings are sent as they are; anything else is sent as JSON. */
export type ConfigValue =
  | string
  | number
  | boolean
  | null
  | readonly unknown[]
  | { readonly [key: string]: unknown }

export interface ConfigGetOptions extends CallOptions {
  /** Replace `auto` placeholders with what AutoConf supplies. */
  expandAuto?: boolean
}

export interface ConfigSetOptions extends CallOptions {
  /** Parse a string value as JSON (implied for values that are not strings). */
  json?: boolean
  /** Store a string value as a boolean: `'true'` is true, anything else false. */
  bool?: boolean
}

export interface ConfigShowOptions extends CallOptions {
  /** Replace `auto` placeholders with what AutoConf supplies. */
  expandAuto?: boolean
}

export interface ConfigProfileApplyOptions extends CallOptions {
  /** Report the change without saving it. */
  dryRun?: boolean
}

/** The config before and after a profile (both without `Identity.PrivKey`). */
export interface ConfigProfileApplyResult {
  oldConfig: KuboConfig
  newConfig: KuboConfig
}

const OPTION_NAMES = new Set(['signal', 'timeout', 'expandAuto', 'json', 'bool'])

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** A second argument is options (a read) unless it is something else or has a key no option has. */
function isOptions(value: unknown): boolean {
  return (
    value === undefined || (isPlainObject(value) && Object.keys(value).every(key => OPTION_NAMES.has(key)))
  )
}

function checkKey(key: string): string {
  if (typeof key !== 'string' || key.trim() === '')
    throw new InvalidArgumentError('key', 'a config key cannot be empty (e.g. "Addresses.API")')
  return key
}

function configBody(config: KuboConfig | string | Uint8Array): string | Uint8Array {
  if (typeof config === 'string' || config instanceof Uint8Array) {
    try {
      JSON.parse(typeof config === 'string' ? config : new TextDecoder().decode(config))
    } catch (error) {
      throw new InvalidArgumentError('config', `not JSON: ${(error as Error).message}`, { cause: error })
    }
    return config
  }
  if (!isPlainObject(config))
    throw new InvalidArgumentError('config', 'expected the config as an object, a JSON string or JSON bytes')
  return JSON.stringify(config)
}

/** `config/*`: reads and changes the node's config file. Most changes take effect when the daemon restarts. */
export function createConfigCommands(invoker: Invoker) {
  /** Reads the value at `key` (e.g. `Datastore.StorageMax`). */
  function config<T = unknown>(key: string, options?: ConfigGetOptions): Promise<T>
  /**
   * Sets the value at `key` and resolves with the value stored. To set an object whose keys look
   * like options (such as `{}`), pass options too: `config(key, {}, {})`.
   */
  function config<T = unknown>(key: string, value: ConfigValue, options?: ConfigSetOptions): Promise<T>
  async function config(key: string, ...rest: unknown[]): Promise<unknown> {
    checkKey(key)
    const [second, third] = rest
    if (rest.length <= 1 && isOptions(second)) {
      const options = (second ?? {}) as ConfigGetOptions
      return (await invoker.json<{ Key: string; Value: unknown }>('config', options, { args: [key] })).Value
    }
    if (second === undefined)
      throw new InvalidArgumentError('value', 'cannot set a config value to undefined (use null)')
    const options = (third ?? {}) as ConfigSetOptions
    const isString = typeof second === 'string'
    const raw = await invoker.json<{ Key: string; Value: unknown }>('config', options, {
      args: [key, isString ? second : JSON.stringify(second)],
      ...(isString ? {} : { options: { json: true, bool: undefined } })
    })
    return raw.Value
  }

  return Object.assign(config, {
    /** The whole config, without `Identity.PrivKey` and remote pinning credentials. */
    show: async (options: ConfigShowOptions = {}): Promise<KuboConfig> =>
      await invoker.json<KuboConfig>('config/show', options),

    /**
     * Replaces the whole config (e.g. an edited `show()`); Kubo keeps its own `Identity` private
     * key and peer id, and refuses a config that carries a private key.
     */
    replace: async (
      newConfig: KuboConfig | string | Uint8Array,
      options: CallOptions = {}
    ): Promise<void> => {
      await invoker.none('config/replace', options, { body: entriesFromInput(configBody(newConfig)) })
    },

    profile: {
      /** Applies a config profile (e.g. `lowpower`, `server`); see `ipfs config profile --help` for the list. */
      apply: async (
        profile: string,
        options: ConfigProfileApplyOptions = {}
      ): Promise<ConfigProfileApplyResult> => {
        if (typeof profile !== 'string' || profile.trim() === '')
          throw new InvalidArgumentError('profile', 'a profile name cannot be empty')
        const raw = await invoker.json<{ OldCfg: KuboConfig; NewCfg: KuboConfig }>(
          'config/profile/apply',
          options,
          { args: [profile] }
        )
        return { oldConfig: raw.OldCfg, newConfig: raw.NewCfg }
      }
    }
  })
}
