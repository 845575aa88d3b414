import { InvalidArgumentError } from '@tk/rpc'
import type { ConnectResult } from './connect.js'
import { DEFAULT_MONITOR_INTERVAL } from './constants.js'
import type { ContactStore } from './contacts.js'
import { checkMilliseconds, toContactKey } from './validate.js'

/** What a monitor needs of a store. */
export type MonitoredStore = Pick<ContactStore, 'ensureConnected' | 'rememberAddresses'>

export interface MonitorContactsOptions {
  /** Pause between the end of one round and the start of the next (ms); default 30 000. */
  interval?: number
  /** Stops the monitor when aborted. */
  signal?: AbortSignal
  /** The `timeout` of each `ensureConnected`, a deadline for one contact's connection (ms); default the store's `connectTimeout`. */
  connectTimeout?: number
  /** @deprecated The old name of `connectTimeout`. */
  timeout?: number
}

export interface ContactConnectDetail {
  /** The name or peer id as given to `monitorContacts`. */
  contact: string
  result: ConnectResult
}

export interface ContactErrorDetail {
  contact: string
  error: Error
}

export interface RoundEndDetail {
  /** 1 for the first round. */
  round: number
  connected: string[]
  failed: string[]
}

/** Options of `addEventListener`. */
export interface MonitorListenerOptions {
  /** Remove the listener after its first call. */
  once?: boolean
  /** Remove the listener when this aborts. */
  signal?: AbortSignal
}

export interface ContactMonitorEvents {
  /** A contact is connected (possibly already was), and its address remembered. */
  'contact-connect': CustomEvent<ContactConnectDetail>
  /** A contact could not be connected (usually a `ContactUnreachableError`). */
  'contact-error': CustomEvent<ContactErrorDetail>
  /** A round over every contact is over; the next starts after `interval`. */
  'round-end': CustomEvent<RoundEndDetail>
}

/** Keeps contacts connected in the background until stopped. */
export interface ContactMonitor extends AsyncDisposable {
  /** False once `stop()` was called or the signal aborted. */
  readonly running: boolean
  addEventListener<K extends keyof ContactMonitorEvents>(
    type: K,
    listener: (event: ContactMonitorEvents[K]) => void,
    options?: MonitorListenerOptions
  ): void
  removeEventListener<K extends keyof ContactMonitorEvents>(
    type: K,
    listener: (event: ContactMonitorEvents[K]) => void
  ): void
  /** Stops: no new round, the running one is aborted and awaited; no timer is left. */
  stop(): Promise<void>
}

function isNamed(error: unknown, name: string): boolean {
  return (error as Error | undefined)?.name === name
}

class Monitor implements ContactMonitor {
  readonly #events = new EventTarget()
  readonly #store: MonitoredStore
  readonly #contacts: readonly string[]
  readonly #interval: number
  readonly #connectTimeout: number | undefined
  readonly #controller = new AbortController()
  readonly #signal: AbortSignal | undefined
  readonly #onAbort = (): void => {
    void this.stop()
  }
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> = Promise.resolve()
  #rounds = 0
  #stopping: Promise<void> | undefined

  constructor(store: MonitoredStore, contacts: readonly string[], options: MonitorContactsOptions) {
    this.#store = store
    this.#contacts = contacts
    this.#interval = checkMilliseconds(options.interval, 'interval', 1) ?? DEFAULT_MONITOR_INTERVAL
    this.#connectTimeout =
      options.connectTimeout === undefined
        ? checkMilliseconds(options.timeout, 'timeout', 1)
        : checkMilliseconds(options.connectTimeout, 'connectTimeout', 1)
    this.#signal = options.signal
  }

  addEventListener<K extends keyof ContactMonitorEvents>(
    type: K,
    listener: (event: ContactMonitorEvents[K]) => void,
    options?: MonitorListenerOptions
  ): void {
    // Only this class dispatches, and only events of the type each name maps to.
    this.#events.addEventListener(type, listener as (event: Event) => void, options)
  }

  removeEventListener<K extends keyof ContactMonitorEvents>(
    type: K,
    listener: (event: ContactMonitorEvents[K]) => void
  ): void {
    this.#events.removeEventListener(type, listener as (event: Event) => void)
  }

  #dispatch<K extends keyof ContactMonitorEvents>(type: K, detail: ContactMonitorEvents[K]['detail']): void {
    this.#events.dispatchEvent(new CustomEvent(type, { detail }))
  }

  get running(): boolean {
    return this.#stopping == null
  }

  start(): void {
    if (this.#signal?.aborted === true) {
      void this.stop()
      return
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    this.#round = this.#runRound()
  }

  async #watch(contact: string, signal: AbortSignal): Promise<boolean> {
    try {
      const result = await this.#store.ensureConnected(contact, { signal, timeout: this.#connectTimeout })
      try {
        await this.#store.rememberAddresses(result.peerId, [result.address], { signal })
      } catch (error) {
        // A peer id that is not a contact is watched but has nowhere to remember addresses.
        if (!isNamed(error, 'ContactNotFoundError')) throw error
      }
      this.#dispatch('contact-connect', { contact, result })
      return true
    } catch (error) {
      // Stopping aborts the calls in flight; that says nothing about the contact.
      if (signal.aborted) return false
      const detail = { contact, error: error instanceof Error ? error : new Error(String(error)) }
      this.#dispatch('contact-error', detail)
      return false
    }
  }

  async #runRound(): Promise<void> {
    const signal = this.#controller.signal
    const round = ++this.#rounds
    const outcomes = await Promise.all(
      this.#contacts.map(async contact => await this.#watch(contact, signal))
    )
    if (signal.aborted) return
    this.#dispatch('round-end', {
      round,
      connected: this.#contacts.filter((_contact, index) => outcomes[index] === true),
      failed: this.#contacts.filter((_contact, index) => outcomes[index] !== true)
    })
    // A listener of round-end may have stopped us.
    if (signal.aborted) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#round = this.#runRound()
    }, this.#interval)
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#signal?.removeEventListener('abort', this.#onAbort)
      this.#controller.abort(new Error('The contact monitor was stopped'))
      clearTimeout(this.#timer)
      this.#timer = undefined
      await this.#round
    })()
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

/**
 * Keeps the given contacts (names or peer ids) connected: every `interval` ms, `ensureConnected`
 * each one, then remember the address of the connection, so the store stays fresh. The first round
 * starts at once. Stop it with `stop()` or `await using`.
 */
export function monitorContacts(
  store: MonitoredStore,
  contacts: readonly string[],
  options: MonitorContactsOptions = {}
): ContactMonitor {
  if (!Array.isArray(contacts) || contacts.length === 0) {
    throw new InvalidArgumentError('contacts', 'name at least one contact (a name or a peer id) to monitor')
  }
  for (const contact of contacts) toContactKey(contact, 'contacts')
  const monitor = new Monitor(store, [...new Set(contacts)], options)
  monitor.start()
  return monitor
}
