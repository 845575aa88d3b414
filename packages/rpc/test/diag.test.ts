import { findKuboBinary } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { createDiagCommands } from '../src/commands/diag.js'
import { useKuboNode } from './helpers.js'

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return Buffer.concat(parts)
}

function thrown(action: () => unknown): unknown {
  try {
    action()
  } catch (error) {
    return error
  }
  return undefined
}

describe('diag', () => {
  const kubo = useKuboNode()
  const { invoker } = kubo
  const diag = createDiagCommands(invoker)

  it('sys describes the daemon and its machine', async () => {
    const sys = await diag.sys()
    // The Kubo the node runs: the pinned one, or KUBO_BINARY (CI also runs the oldest supported).
    expect(sys.ipfsVersion).toBe((await findKuboBinary()).version)
    expect(sys.environment.IPFS_PATH).toBe(kubo.node.repoPath)
    expect(sys.net.online).toBe(true)
    expect(sys.net.interfaceAddresses).toContain('/ip4/127.0.0.1')
    expect(sys.runtime.os).toBe(process.platform)
    expect(sys.runtime.version).toMatch(/^go\d/)
    expect(sys.runtime.cpuCount).toBeGreaterThan(0)
    expect(sys.runtime.goMaxProcs).toBeGreaterThan(0)
    expect(sys.runtime.goroutineCount).toBeGreaterThan(0)
    expect(sys.diskInfo.totalSpace).toBeGreaterThan(0)
    expect(sys.diskInfo.freeSpace).toBeGreaterThan(0)
    expect(sys.memory.virtual).toBeGreaterThan(0)
  })

  it('cmds lists finished and running commands with their arguments and options', async () => {
    await invoker.json('config', {}, { args: ['Datastore.StorageMax'] })
    const entries = await diag.cmds({ verbose: true })
    const finished = entries.filter(entry => entry.command === 'config').at(-1)
    expect(finished).toMatchObject({
      command: 'config',
      args: ['Datastore.StorageMax'],
      active: false,
      options: { encoding: 'json' }
    })
    expect(finished?.endTime?.getTime()).toBeGreaterThanOrEqual(finished?.startTime.getTime() ?? Number.NaN)
    // The request asking is itself running.
    const running = entries.filter(entry => entry.command === 'diag/cmds').at(-1)
    expect(running).toMatchObject({ active: true, options: { verbose: true } })
    expect(running?.endTime).toBeUndefined()
    expect(Number.isInteger(running?.id)).toBe(true)
  })

  it('cmds clear forgets finished commands', async () => {
    await diag.sys()
    expect((await diag.cmds()).some(entry => !entry.active)).toBe(true)
    await diag.cmds.clear()
    const entries = await diag.cmds()
    // Only the clear request itself (running while it cleared) and the request asking are left.
    expect(entries.map(entry => [entry.command, entry.active])).toEqual([
      ['diag/cmds/clear', false],
      ['diag/cmds', true]
    ])
  })

  it('cmds setTime decides how long finished commands are kept', async () => {
    const countHealthy = async (): Promise<number> =>
      (await diag.cmds()).filter(entry => entry.command === 'diag/healthy').length
    await diag.cmds.clear()
    await diag.cmds.setTime('1h')
    for (let index = 0; index < 20; index++) await diag.healthy()
    expect(await countHealthy()).toBe(20)

    // Kubo prunes every 10th entry; with nothing kept, the pruning drops the finished ones.
    await diag.cmds.setTime(0)
    for (let index = 0; index < 20; index++) await diag.healthy()
    expect(await countHealthy()).toBeLessThan(10)
    await diag.cmds.setTime('1m')
  })

  it('profile streams a zip with the chosen collectors', async () => {
    const zip = await collect(
      diag.profile({ collectors: ['version', 'goroutines-stack', 'cpu'], profileTime: '1s' })
    )
    expect(zip.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]))
    const text = zip.toString('latin1')
    expect(text).toContain('version.json')
    expect(text).toContain('goroutines.stacks')
    expect(text).toContain('cpu.pprof')
    expect(text).not.toContain('heap.pprof')
  })

  it('profile surfaces Kubo’s mid-stream error for an unknown collector', async () => {
    await expect(
      collect(diag.profile({ collectors: ['version', 'no-such-collector'], profileTime: 0 }))
    ).rejects.toMatchObject({
      name: 'KuboRpcError',
      status: 200,
      kuboMessage: "unknown collector 'no-such-collector'"
    })
  })

  it('healthy resolves on a running daemon', async () => {
    await expect(diag.healthy()).resolves.toBeUndefined()
  })

  it('rejects bad input before any request', async () => {
    await expect(diag.cmds.setTime('soon')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'time'
    })
    await expect(diag.cmds.setTime(-1)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'time'
    })
    expect(thrown(() => diag.profile({ profileTime: 'long' }))).toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'profileTime'
    })
    expect(thrown(() => diag.profile({ blockProfileRate: '1 ms' }))).toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'blockProfileRate'
    })
    expect(thrown(() => diag.profile({ collectors: [] }))).toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'collectors'
    })
  })
})
