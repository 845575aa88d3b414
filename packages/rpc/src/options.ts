import type { OptionValue } from './transport.js'

/** Every call takes these; they are not sent to Kubo as options. */
export interface CallOptions {
  signal?: AbortSignal
  /** Deadline for the whole call (ms); without it, a call fails after a long stretch without progress. */
  timeout?: number
}

const NOT_KUBO_OPTIONS = new Set(['signal', 'timeout'])

/** `cidVersion` → `cid-version`. */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, letter => `-${letter.toLowerCase()}`)
}

/**
 * Turns a call's options into Kubo's: camelCase names become kebab-case, `signal`/`timeout` and
 * undefined values are dropped, `rename` maps names that do not follow the rule (e.g. `{ unsorted: 'U' }`).
 */
export function toKuboOptions(
  options: object | undefined,
  rename: Record<string, string> = {}
): Record<string, OptionValue> {
  const result: Record<string, OptionValue> = {}
  for (const [name, value] of Object.entries(options ?? {})) {
    if (NOT_KUBO_OPTIONS.has(name) || value === undefined) continue
    result[rename[name] ?? kebabCase(name)] =
      value instanceof Date ? Math.floor(value.getTime() / 1000) : (value as OptionValue)
  }
  return result
}

/** A Go duration string (`"300ms"`, `"1.5h"`, `"2h45m"`) or a number of milliseconds. */
export type Duration = string | number
