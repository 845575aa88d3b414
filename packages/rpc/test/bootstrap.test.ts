import { describe, expect, it } from 'vitest'
import { createBootstrapCommands } from '../src/commands/bootstrap.js'
import { useKuboNode } from './helpers.js'

// Peer ids nobody runs: the bootstrap list is only config, nothing is dialled here.
const PEER_ONE = '12D3KooWPRk6tA7nvxA1JnxwEL9RDvGr5GfzHY5qJ4AvquyCU4dD'
const PEER_TWO = '12D3KooWPH8EmTrE3FbCbjwsZmpJVjffwFPqQZNwHByz3ugoxH3j'

describe('bootstrap', () => {
  const kubo = useKuboNode()
  const bootstrap = createBootstrapCommands(kubo.invoker)

  it('starts empty on a test node', async () => {
    expect(await bootstrap()).toEqual([])
    expect(await bootstrap.list()).toEqual([])
  })

  it('add → list contains it → rm → gone', async () => {
    const address = `/ip4/192.0.2.1/tcp/4001/p2p/${PEER_ONE}`
    expect(await bootstrap.add(address)).toEqual([address])
    expect(await bootstrap.list()).toEqual([address])
    expect(await bootstrap()).toEqual([address])
    expect(await bootstrap.list({ expandAuto: true })).toEqual([address])

    expect(await bootstrap.rm(address)).toEqual([address])
    expect(await bootstrap.list()).toEqual([])
  })

  it('rm with /p2p/<peerId> removes every address of that peer', async () => {
    const addresses = [
      `/ip4/192.0.2.1/tcp/4001/p2p/${PEER_ONE}`,
      `/ip4/192.0.2.2/udp/4001/quic-v1/p2p/${PEER_ONE}`
    ]
    const other = `/ip4/192.0.2.3/tcp/4001/p2p/${PEER_TWO}`
    expect(await bootstrap.add([...addresses, other])).toEqual([...addresses, other])
    expect((await bootstrap.rm(`/p2p/${PEER_ONE}`)).sort()).toEqual([...addresses].sort())
    expect(await bootstrap.list()).toEqual([other])
    expect(await bootstrap.rm(other)).toEqual([other])
  })

  it('rm with all: true removes everything', async () => {
    const addresses = [`/ip4/192.0.2.1/tcp/4001/p2p/${PEER_ONE}`, `/ip4/192.0.2.3/tcp/4001/p2p/${PEER_TWO}`]
    await bootstrap.add(addresses)
    expect((await bootstrap.rm({ all: true })).sort()).toEqual([...addresses].sort())
    expect(await bootstrap.list()).toEqual([])
  })

  it('rm all removes everything', async () => {
    const addresses = [`/ip4/192.0.2.1/tcp/4001/p2p/${PEER_ONE}`, `/ip4/192.0.2.3/tcp/4001/p2p/${PEER_TWO}`]
    await bootstrap.add(addresses)
    expect((await bootstrap.rm.all()).sort()).toEqual([...addresses].sort())
    expect(await bootstrap.list()).toEqual([])
    expect(await bootstrap.rm.all()).toEqual([])
  })

  it('surfaces Kubo’s refusal of the default peers when AutoConf is off', async () => {
    // The test profile turns AutoConf off, and `auto` is resolved by AutoConf.
    await expect(bootstrap.add('default')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: expect.stringContaining('cannot add default bootstrap peers: AutoConf is disabled')
    })
    expect(await bootstrap.list()).toEqual([])
  })

  it('rejects bad input before any request', async () => {
    await expect(bootstrap.add('192.0.2.1:4001')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peer'
    })
    await expect(bootstrap.add('/ip4/192.0.2.1/tcp/4001')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peer'
    })
    await expect(bootstrap.add([])).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'peer' })
    await expect(bootstrap.rm('auto')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peer'
    })
    await expect(bootstrap.rm({})).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'peer' })
  })
})
