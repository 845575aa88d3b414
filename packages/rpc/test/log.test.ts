import { describe, expect, it } from 'vitest'
import { createLogCommands, type LogEntry } from '../src/commands/log.js'
import { useKuboNode } from './helpers.js'

describe('log', () => {
  const kubo = useKuboNode()
  const log = createLogCommands(kubo.invoker)

  it('ls lists the subsystems', async () => {
    const subsystems = await log.ls()
    expect(subsystems).toContain('core')
    expect(subsystems).toContain('cmds/http')
  })

  it('level reads the default, one subsystem and all of them', async () => {
    const defaults = await log.level()
    // go-log's name for the default is the empty string.
    expect(Object.keys(defaults)).toEqual([''])
    const defaultLevel = defaults[''] ?? ''
    expect(defaultLevel).toMatch(/^(debug|info|warn|error|dpanic|panic|fatal)$/)
    expect(await log.level('bitswap')).toEqual({ bitswap: defaultLevel })
    const all = await log.level('all')
    expect(all['(default)']).toBe(defaultLevel)
    expect(all.core).toMatch(/^(debug|info|warn|error|dpanic|panic|fatal)$/)
  })

  it('level sets a subsystem’s level, and default resets it', async () => {
    const defaultLevel = (await log.level())[''] ?? ''
    expect(await log.level('core', 'debug')).toBe("Changed log level of 'core' to 'debug'")
    expect(await log.level('core')).toEqual({ core: 'debug' })
    expect((await log.level('all')).core).toBe('debug')
    expect(await log.level('core', 'default')).toBe(`Changed log level of 'core' to '${defaultLevel}'`)
    expect(await log.level('core')).toEqual({ core: defaultLevel })
  })

  it('tail yields entries as the daemon logs them', async () => {
    await log.level('cmds/http', 'debug')
    const controller = new AbortController()
    // Kubo only sees entries logged after the tail started, so keep making some until one arrives.
    const poke = setInterval(() => {
      log.ls().catch(() => {
        // Stopped by the end of the test; nothing to report.
      })
    }, 100)
    let found: LogEntry | undefined
    try {
      for await (const entry of log.tail({ signal: controller.signal })) {
        if (entry.logger === 'cmds/http' && entry.message.includes('/log/ls')) {
          found = entry
          break
        }
      }
    } finally {
      clearInterval(poke)
      controller.abort()
      await log.level('cmds/http', 'default')
    }
    expect(found).toMatchObject({
      level: 'debug',
      logger: 'cmds/http',
      message: expect.stringContaining('incoming API request: /log/ls')
    })
    expect(found?.caller).toMatch(/\.go:\d+$/)
    expect(found?.time).toBeInstanceOf(Date)
    expect(Math.abs((found?.time?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000)
  })

  it('aborting the signal ends a quiet tail quickly with an AbortError', async () => {
    const controller = new AbortController()
    // Nothing is logged at fatal: Kubo has not even sent headers when the abort comes.
    const pending = log.tail({ signal: controller.signal, logLevel: 'fatal' })[Symbol.asyncIterator]().next()
    setTimeout(() => controller.abort(), 200)
    const started = Date.now()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', command: 'log/tail' })
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('aborting the signal mid-stream ends the iteration with an AbortError', async () => {
    await log.level('cmds/http', 'debug')
    const controller = new AbortController()
    const poke = setInterval(() => {
      log.ls().catch(() => {
        // Stopped by the end of the test; nothing to report.
      })
    }, 50)
    const received: LogEntry[] = []
    const started = Date.now()
    try {
      await expect(
        (async () => {
          for await (const entry of log.tail({ signal: controller.signal })) {
            received.push(entry)
            if (received.length === 1) setTimeout(() => controller.abort(), 100)
          }
        })()
      ).rejects.toMatchObject({ name: 'AbortError', command: 'log/tail' })
    } finally {
      clearInterval(poke)
      await log.level('cmds/http', 'default')
    }
    expect(received.length).toBeGreaterThan(0)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('surfaces Kubo’s refusal to read an unknown subsystem', async () => {
    await expect(log.level('no-such-subsystem')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: expect.stringContaining('No such logger')
    })
  })

  it('rejects bad input before any request', async () => {
    await expect(log.level('core', 'loud' as 'debug')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'level'
    })
    await expect(log.level('')).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'subsystem' })
    await expect(log.tail({ logLevel: 'loud' as 'debug' }).next()).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'logLevel'
    })
  })
})
