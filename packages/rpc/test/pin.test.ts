import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createPinCommands, type Pin } from '../src/commands/pin.js'
import { createRootCommands } from '../src/commands/root.js'
import { all, useKuboNode } from './helpers.js'

describe('pin', () => {
  const kubo = useKuboNode()
  const pin = createPinCommands(kubo.invoker)
  const root = createRootCommands(kubo.invoker)

  const findPin = async (cid: string): Promise<Pin | undefined> =>
    (await all(pin.ls({ names: true }))).find(item => item.cid === cid)

  it('add with a name: ls lists it as recursive with that name, streamed or not, filtered by type and name', async () => {
    const added = await root.add('pin me by name', { pin: false })
    expect(await findPin(added.cid)).toBeUndefined()

    expect(await pin.add(added.cid, { name: 'my-pin' })).toEqual([added.cid])
    expect(await findPin(added.cid)).toEqual({ cid: added.cid, type: 'recursive', name: 'my-pin' })

    const streamed = await all(pin.ls({ stream: true, names: true, type: 'recursive' }))
    expect(streamed).toContainEqual({ cid: added.cid, type: 'recursive', name: 'my-pin' })
    expect(streamed.every(item => item.type === 'recursive')).toBe(true)

    // Names are only reported when asked for; `name` filters (and implies names).
    expect((await all(pin.ls())).find(item => item.cid === added.cid)).toEqual({
      cid: added.cid,
      type: 'recursive'
    })
    expect(await all(pin.ls({ name: 'my-p' }))).toEqual([
      { cid: added.cid, type: 'recursive', name: 'my-pin' }
    ])
    expect(await all(pin.ls({ type: 'direct' }))).not.toContainEqual(
      expect.objectContaining({ cid: added.cid })
    )

    // Asking about a CID that is not pinned fails in Kubo.
    const loose = await root.add('not pinned', { pin: false })
    await expect(all(pin.ls(loose.cid))).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: `path '${loose.cid}' is not pinned`
    })
  })

  it('direct pins, indirect pins and ls of given CIDs', async () => {
    const tree = await all(
      root.addAll(
        [
          { path: 'dir', content: undefined },
          { path: 'dir/a.txt', content: 'a' },
          { path: 'dir/b.txt', content: 'b' }
        ],
        { pin: false }
      )
    )
    const directory = tree.find(item => item.name === 'dir')
    const child = tree.find(item => item.name === 'dir/a.txt')
    if (directory == null || child == null) throw new Error('add did not return the tree')

    await pin.add(`/ipfs/${directory.cid}`)
    expect(await all(pin.ls(child.cid))).toEqual([{ cid: child.cid, type: 'indirect', via: directory.cid }])
    expect(await all(pin.ls([child.cid], { stream: true }))).toEqual([
      { cid: child.cid, type: 'indirect', via: directory.cid }
    ])
    expect(await all(pin.ls({ type: 'indirect', stream: true }))).toContainEqual({
      cid: child.cid,
      type: 'indirect'
    })

    const single = await root.add(randomBytes(64), { pin: false })
    expect(await pin.add([single.cid], { recursive: false })).toEqual([single.cid])
    expect(await all(pin.ls(single.cid))).toEqual([{ cid: single.cid, type: 'direct' }])
    expect(await pin.rm(single.cid, { recursive: false })).toEqual([single.cid])
    expect(await findPin(single.cid)).toBeUndefined()
  })

  it('add reports progress when asked and still returns the pinned CIDs', async () => {
    const added = await root.add(randomBytes(3 * 1024 * 1024), { pin: false })
    const progress: Array<[number, number]> = []
    const pinned = await pin.add(added.cid, { onProgress: (nodes, bytes) => progress.push([nodes, bytes]) })
    expect(pinned).toEqual([added.cid])
    // Kubo emits a final progress line whenever it processed any node: the root plus its 12 leaves.
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)?.[0]).toBe(13)
    expect((await findPin(added.cid))?.type).toBe('recursive')
  })

  it('update moves a recursive pin from the old CID to the new one', async () => {
    const before = await root.add('version 1', { pin: false })
    const after = await root.add('version 2', { pin: false })
    await pin.add(before.cid, { name: 'versioned' })

    expect(await pin.update(before.cid, after.cid)).toEqual({ from: before.cid, to: after.cid })
    expect(await findPin(before.cid)).toBeUndefined()
    expect((await findPin(after.cid))?.type).toBe('recursive')

    // With unpin: false the old pin stays.
    const third = await root.add('version 3', { pin: false })
    await pin.update(after.cid, third.cid, { unpin: false })
    expect((await findPin(after.cid))?.type).toBe('recursive')
    expect((await findPin(third.cid))?.type).toBe('recursive')
  })

  it('rm removes a pin: ls no longer lists it, and a second rm fails', async () => {
    const added = await root.add('pin then unpin', { pin: false })
    await pin.add(added.cid)
    expect(await pin.rm(added.cid)).toEqual([added.cid])
    expect(await findPin(added.cid)).toBeUndefined()
    await expect(pin.rm(added.cid)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'not pinned or pinned indirectly'
    })
  })

  it('verify reports every recursive pin as complete with `verbose`, and nothing broken without it', async () => {
    const recursive = (await all(pin.ls({ type: 'recursive' }))).map(item => item.cid).sort()
    expect(recursive.length).toBeGreaterThan(0)
    const verbose = await all(pin.verify({ verbose: true }))
    expect(verbose.map(item => item.cid).sort()).toEqual(recursive)
    expect(verbose.every(item => item.ok && item.badNodes.length === 0 && item.error === undefined)).toBe(
      true
    )
    expect(await all(pin.verify())).toEqual([])
  })

  // No pinning service can be reached from the test machine: a service is configured and removed,
  // and the remote commands are checked against a loopback port where nothing listens.
  it('remote services: add, ls, rm', async () => {
    expect(await pin.remote.service.ls()).toEqual([])
    await pin.remote.service.add('nowhere', 'http://127.0.0.1:9/', 'secret-key')
    expect(await pin.remote.service.ls()).toEqual([{ service: 'nowhere', endpoint: 'http://127.0.0.1:9' }])
    expect(await pin.remote.service.ls({ stat: true })).toEqual([
      { service: 'nowhere', endpoint: 'http://127.0.0.1:9', stat: { status: 'invalid' } }
    ])
    await expect(pin.remote.service.add('nowhere', 'http://127.0.0.1:9/', 'again')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'service already present'
    })
    await pin.remote.service.rm('nowhere')
    expect(await pin.remote.service.ls()).toEqual([])
  })

  it('remote pins: ls, add and rm report the unreachable service exactly', async () => {
    const added = await root.add('remote candidate')
    await pin.remote.service.add('dead', 'http://127.0.0.1:9', 'key')
    try {
      await expect(all(pin.remote.ls({ service: 'dead' }))).rejects.toMatchObject({
        name: 'KuboRpcError',
        kuboMessage:
          'empty response from remote pinning service: Get "http://127.0.0.1:9/pins?limit=10&status=pinned": dial tcp 127.0.0.1:9: connect: connection refused'
      })
      await expect(
        all(pin.remote.ls({ service: 'dead', cid: [added.cid], status: ['queued', 'pinned'] }))
      ).rejects.toMatchObject({
        kuboMessage: `empty response from remote pinning service: Get "http://127.0.0.1:9/pins?cid=${added.cid}&limit=10&status=queued%2Cpinned": dial tcp 127.0.0.1:9: connect: connection refused`
      })
      await expect(
        pin.remote.add(added.cid, { service: 'dead', name: 'n', background: true })
      ).rejects.toMatchObject({
        kuboMessage:
          'empty response from remote pinning service: Post "http://127.0.0.1:9/pins": dial tcp 127.0.0.1:9: connect: connection refused'
      })
      await expect(pin.remote.rm({ service: 'dead', cid: added.cid })).rejects.toMatchObject({
        kuboMessage: `error while listing remote pins: empty response from remote pinning service: Get "http://127.0.0.1:9/pins?cid=${added.cid}&limit=10&status=pinned": dial tcp 127.0.0.1:9: connect: connection refused`
      })
      await expect(all(pin.remote.ls({ service: 'unknown' }))).rejects.toMatchObject({
        kuboMessage: 'service not known'
      })
    } finally {
      await pin.remote.service.rm('dead')
    }
  })

  it('rejects bad input before any request', async () => {
    await expect(pin.add('not-a-cid')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'path'
    })
    await expect(pin.add([])).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'path' })
    const cid = (await root.add('named')).cid
    await expect(pin.add(cid, { name: 'x'.repeat(256) })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'name'
    })
    await expect(pin.update(cid, 'nope')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'to'
    })
    await expect(all(pin.ls({ type: 'bogus' as 'all' }))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'type'
    })
    await expect(all(pin.verify({ verbose: true, quiet: true }))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'quiet'
    })
    await expect(all(pin.remote.ls({ service: '' }))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'service'
    })
    await expect(all(pin.remote.ls({ service: 's', cid: 'bad' }))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cid'
    })
    await expect(pin.remote.rm({ service: 's', status: 'done' as 'pinned' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'status'
    })
    await expect(pin.remote.service.add('s', 'ftp://example.com', 'k')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'endpoint'
    })
  })
})
