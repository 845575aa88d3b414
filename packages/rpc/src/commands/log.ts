import { InvalidArgumentError } from '../errors.js'
import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'

/** go-log's levels, most verbose first; `default` (for `level`) means the current default level. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'dpanic' | 'panic' | 'fatal'

export interface LogTailOptions extends CallOptions {
  /** Only entries at this level or above (the daemon must log at least at this level). */
  logLevel?: LogLevel
}

/** One log entry from `log tail`. */
export interface LogEntry {
  /** `debug`, `info`, …; empty for a line that was not a JSON entry. */
  level: string
  /** When it was logged; absent for a line that was not a JSON entry. */
  time?: Date
  /** The subsystem, e.g. `cmds/http`. */
  logger: string
  /** `file.go:line` in Kubo's source. */
  caller: string
  /** The message (or the whole line, when it was not a JSON entry). */
  message: string
  /** The entry's other structured fields, keyed as logged. */
  fields: Record<string, unknown>
}

const LEVELS = new Set<string>(['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'])

function checkLevel(value: string, argument: string, allowDefault: boolean): string {
  if (typeof value !== 'string' || !(LEVELS.has(value) || (allowDefault && value === 'default'))) {
    const choices = [...LEVELS, ...(allowDefault ? ['default'] : [])].join(', ')
    throw new InvalidArgumentError(argument, `"${String(value)}" is not a log level (one of ${choices})`)
  }
  return value
}

function checkSubsystem(value: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidArgumentError(
      'subsystem',
      'a subsystem name cannot be empty (use "all" for every subsystem)'
    )
  }
  return value
}

function toLogEntry(line: string): LogEntry {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    // go-log's pipe writes JSON; anything else is passed on as it came.
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { level: '', logger: '', caller: '', message: line, fields: {} }
  }
  const { level, ts, logger, caller, msg, ...fields } = parsed as Record<string, unknown>
  const time =
    typeof ts === 'string' ? new Date(ts) : typeof ts === 'number' ? new Date(ts * 1000) : undefined
  return {
    level: String(level ?? ''),
    ...(time == null || Number.isNaN(time.getTime()) ? {} : { time }),
    logger: String(logger ?? ''),
    caller: String(caller ?? ''),
    message: String(msg ?? ''),
    fields
  }
}

/** `log/*`: the daemon's log levels and its live log. */
export function createLogCommands(invoker: Invoker) {
  /**
   * The default log level (keyed `''`), or one subsystem's level (keyed by its name), or with
   * `'all'` every subsystem's (the default keyed `(default)`). Keys are go-log's names, as they are.
   */
  function level(options?: CallOptions): Promise<Record<string, string>>
  function level(subsystem: string, options?: CallOptions): Promise<Record<string, string>>
  /** Sets a subsystem's level (`'all'` for every subsystem and the default); resolves with Kubo's confirmation. */
  function level(subsystem: string, level: LogLevel | 'default', options?: CallOptions): Promise<string>
  async function level(
    ...rest: Array<string | CallOptions | undefined>
  ): Promise<Record<string, string> | string> {
    const strings = rest.filter(value => typeof value === 'string')
    const options = (rest.find(value => typeof value === 'object') ?? {}) as CallOptions
    const [subsystem, newLevel] = strings
    if (subsystem != null) checkSubsystem(subsystem)
    if (newLevel != null) {
      checkLevel(newLevel, 'level', true)
      const raw = await invoker.json<{ Message?: string }>('log/level', options, {
        args: [subsystem ?? '', newLevel]
      })
      return (raw.Message ?? '').trim()
    }
    const raw = await invoker.json<{ Levels?: Record<string, string> | null }>('log/level', options, {
      args: subsystem == null ? [] : [subsystem]
    })
    return { ...raw.Levels }
  }

  return {
    level,

    /** The names of the logging subsystems. */
    ls: async (options: CallOptions = {}): Promise<string[]> =>
      list((await invoker.json<{ Strings: string[] | null }>('log/ls', options)).Strings),

    /**
     * Yields the daemon's log entries as they are written, until the iteration stops or `signal`
     * aborts (which ends the request on the daemon). No timeout applies unless given. Kubo sends
     * nothing, not even headers, before the first entry.
     */
    tail: async function* (options: LogTailOptions = {}): AsyncGenerator<LogEntry> {
      if (options.logLevel != null) checkLevel(options.logLevel, 'logLevel', false)
      const decoder = new TextDecoder()
      let buffered = ''
      for await (const chunk of invoker.bytes('log/tail', options, { longLived: true })) {
        buffered += decoder.decode(chunk, { stream: true })
        let newline = buffered.indexOf('\n')
        while (newline !== -1) {
          const line = buffered.slice(0, newline).trim()
          buffered = buffered.slice(newline + 1)
          if (line !== '') yield toLogEntry(line)
          newline = buffered.indexOf('\n')
        }
      }
      const rest = (buffered + decoder.decode()).trim()
      if (rest !== '') yield toLogEntry(rest)
    }
  }
}
