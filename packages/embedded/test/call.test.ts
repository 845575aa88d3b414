import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { runCall } from '../src/call.js'

/** Work that never settles and ignores its signal, as a Helia block fetch may. */
const deaf = async (): Promise<never> => await new Promise<never>(() => {})

describe('runCall (no node: the work is a stub)', () => {
  it('settles with the caller’s abort reason even when the work ignores its signal', async () => {
    const caller = new AbortController()
    const closing = new AbortController()
    const reason = new Error('caller gave up')
    const call = runCall('test', { signal: caller.signal, timeout: 60_000 }, closing.signal, deaf)
    caller.abort(reason)
    await expect(call).rejects.toBe(reason)
  })

  it('settles with CallTimeoutError at its deadline, and NodeClosedError when the node closes', async () => {
    const closing = new AbortController()
    await expect(runCall('slow', { timeout: 50 }, closing.signal, deaf)).rejects.toMatchObject({
      name: 'CallTimeoutError',
      operation: 'slow'
    })
    const call = runCall('closed', { timeout: 60_000 }, closing.signal, deaf)
    closing.abort()
    await expect(call).rejects.toMatchObject({ name: 'NodeClosedError', operation: 'closed' })
  })

  it('leaves no listener on the caller’s or the node’s long-lived signal, whichever way a call ends', async () => {
    const caller = new AbortController()
    const closing = new AbortController()
    for (let index = 0; index < 20; index++) {
      expect(await runCall('ok', { signal: caller.signal }, closing.signal, async () => index)).toBe(index)
      await expect(
        runCall('fails', { signal: caller.signal }, closing.signal, async () => {
          throw new Error(`failure ${index}`)
        })
      ).rejects.toThrow(`failure ${index}`)
      await expect(
        runCall('late', { signal: caller.signal, timeout: 1 }, closing.signal, deaf)
      ).rejects.toMatchObject({ name: 'CallTimeoutError' })
    }
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
    expect(getEventListeners(closing.signal, 'abort')).toHaveLength(0)
  })
})
