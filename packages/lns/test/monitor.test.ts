import { describe, expect, it } from 'vitest'
import {
  type ConnectResult,
  ContactNotFoundError,
  type EnsureConnectedOptions,
  type MonitoredStore,
  monitorContacts,
  type RoundEndDetail
} from '../src/index.js'

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

/** A store whose `ensureConnected` takes `delay` ms; records what it was asked. */
function fakeStore(delay: number) {
  const calls: string[] = []
  const remembered: Array<[string, string[]]> = []
  const aborted: string[] = []
  const store: MonitoredStore = {
    ensureConnected: async (
      contact: string,
      options: EnsureConnectedOptions = {}
    ): Promise<ConnectResult> => {
      calls.push(contact)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, delay)
        options.signal?.addEventListener('abort', () => {
          clearTimeout(timer)
          aborted.push(contact)
          reject(options.signal?.reason)
        })
      })
      if (contact === 'offline') throw new Error('offline is unreachable')
      return {
        peerId: PEER,
        via: 'remembered-address',
        address: '/ip4/127.0.0.1/tcp/4001',
        ms: delay,
        attempts: []
      }
    },
    rememberAddresses: async (contact, multiaddrs) => {
      remembered.push([contact, [...multiaddrs]])
      if (contact !== PEER) throw new ContactNotFoundError(contact)
      return { name: 'alice', peerId: PEER, addedAt: new Date(), addresses: [] }
    }
  }
  return { store, calls, remembered, aborted }
}

function timers(): number {
  return process.getActiveResourcesInfo().filter(resource => resource === 'Timeout').length
}

describe('monitorContacts', () => {
  it('reconnects each contact every interval, remembers the address, reports each round', async () => {
    const { store, calls, remembered } = fakeStore(5)
    const rounds: RoundEndDetail[] = []
    const errors: string[] = []
    const baseline = timers()
    const monitor = monitorContacts(store, ['alice', 'offline'], { interval: 20 })
    monitor.addEventListener('contact-error', event =>
      errors.push(`${event.detail.contact}: ${event.detail.error.message}`)
    )
    const connects: string[] = []
    monitor.addEventListener('contact-connect', event =>
      connects.push(`${event.detail.contact} via ${event.detail.result.via}`)
    )
    await new Promise<void>(resolve => {
      monitor.addEventListener('round-end', event => {
        rounds.push(event.detail)
        if (rounds.length === 3) resolve()
      })
    })
    await monitor.stop()
    expect(monitor.running).toBe(false)
    expect(rounds.slice(0, 3)).toEqual(
      [1, 2, 3].map(round => ({ round, connected: ['alice'], failed: ['offline'] }))
    )
    expect(calls.slice(0, 6).sort()).toEqual(['alice', 'alice', 'alice', 'offline', 'offline', 'offline'])
    expect(remembered[0]).toEqual([PEER, ['/ip4/127.0.0.1/tcp/4001']])
    expect(connects.slice(0, 3)).toEqual([
      'alice via remembered-address',
      'alice via remembered-address',
      'alice via remembered-address'
    ])
    expect(errors[0]).toBe('offline: offline is unreachable')
    // At most what was there before: another timer of this process may end meanwhile (a CI run saw 1 → 0).
    expect(timers()).toBeLessThanOrEqual(baseline)
  })

  it('stop() aborts the round in flight, reports no error for it, and leaves no timer', async () => {
    const { store, aborted } = fakeStore(60_000)
    const baseline = timers()
    const errors: unknown[] = []
    const monitor = monitorContacts(store, ['alice'], { interval: 10 })
    monitor.addEventListener('contact-error', event => errors.push(event.detail.error))
    await new Promise(resolve => setImmediate(resolve))
    const started = Date.now()
    await monitor.stop()
    expect(Date.now() - started).toBeLessThan(1000)
    expect(aborted).toEqual(['alice'])
    expect(errors).toEqual([])
    // At most what was there before: another timer of this process may end meanwhile (a CI run saw 1 → 0).
    expect(timers()).toBeLessThanOrEqual(baseline)
  })

  it('stops when its signal aborts, and with await using', async () => {
    const { store, calls } = fakeStore(1)
    const baseline = timers()
    const controller = new AbortController()
    const monitor = monitorContacts(store, ['alice'], { interval: 5, signal: controller.signal })
    // Some rounds, then the abort.
    await expect.poll(() => calls.length, { timeout: 5_000, interval: 5 }).toBeGreaterThan(1)
    controller.abort()
    await new Promise(resolve => setImmediate(resolve))
    expect(monitor.running).toBe(false)
    // Nothing left that could call the store again: no round's timer and no call's (the fake store's
    // calls each wait on a timer, and the abort ended the one running).
    expect(timers()).toBeLessThanOrEqual(baseline)
    {
      await using scoped = monitorContacts(store, ['alice'], { interval: 5 })
      expect(scoped.running).toBe(true)
    }
    // Not more than before: the fake store's own 1 ms timers may have been pending at the baseline.
    expect(timers()).toBeLessThanOrEqual(baseline)
  })

  it('checks its arguments', () => {
    const { store } = fakeStore(1)
    expect(() => monitorContacts(store, [])).toThrow(/at least one contact/)
    expect(() => monitorContacts(store, ['\u0000'])).toThrow(/control characters/)
    expect(() => monitorContacts(store, ['alice'], { interval: 0 })).toThrow(/Invalid interval/)
  })
})
