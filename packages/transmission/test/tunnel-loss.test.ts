import { randomBytes } from 'node:crypto'
import { connect } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { listenForTransmissions, transmitData } from '../src/index.js'
import { sha256, startPair, usePair } from './helpers.js'

const pair = usePair()

/** Sends until it is delivered: while the listener's tunnel is being reopened, a sender finds nobody. */
async function sendUntilDelivered(data: Uint8Array, listenerName: string): Promise<number> {
  const started = Date.now()
  for (let attempt = 1; ; attempt++) {
    try {
      await transmitData(data, pair.b.node.peerId, listenerName, { ipfs: pair.a.ipfs, timeout: 10_000 })
      return attempt
    } catch (error) {
      if (Date.now() - started > 45_000) throw error
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }
}

describe('a listener whose Kubo tunnel disappears', () => {
  it.each([
    [
      '`ipfs p2p close --all` on the receiver',
      async () => void (await pair.b.ipfs.client.p2p.close({ all: true }))
    ],
    [
      'the receiver’s daemon restarting',
      async () => {
        await pair.b.node.restart()
        // Same peer id and addresses; the sender's node only has to dial it again.
        await connect(pair.a.node, pair.b.node)
      }
    ]
  ])(
    'notices %s, reports it through onError, reopens it, and the next transmission arrives',
    {
      timeout: 120_000
    },
    async (_what, loseTunnel) => {
      const name = `deaf-${randomBytes(3).toString('hex')}`
      const errors: Error[] = []
      const received: string[] = []
      await using listener = await listenForTransmissions(name, data => void received.push(sha256(data)), {
        ipfs: pair.b.ipfs,
        onError: error => void errors.push(error)
      })
      const before = randomBytes(1000)
      await transmitData(before, pair.b.node.peerId, name, { ipfs: pair.a.ipfs })
      await expect.poll(() => received).toEqual([sha256(before)])

      await loseTunnel()
      // Told, not silently deaf.
      await expect
        .poll(() => errors.map(error => error.name), { timeout: 20_000 })
        .toContain('ListenerTunnelLostError')
      const lost = errors.find(error => error.name === 'ListenerTunnelLostError')
      expect(lost?.message).toContain(listener.protocol)

      // And reopened: Kubo has the listener again, and a transmission gets through.
      await expect
        .poll(async () => (await pair.b.ipfs.client.p2p.ls()).map(entry => entry.protocol), {
          timeout: 30_000,
          interval: 250
        })
        .toContain(listener.protocol)
      const after = randomBytes(5000)
      await sendUntilDelivered(after, name)
      await expect.poll(() => received).toEqual([sha256(before), sha256(after)])
      // One report per loss, not one per reopening attempt.
      expect(errors.filter(error => error.name === 'ListenerTunnelLostError')).toHaveLength(1)

      await listener.close()
      // Closing after a reopen leaves nothing in Kubo.
      await expect
        .poll(async () => (await pair.b.ipfs.client.p2p.ls()).map(entry => entry.protocol), {
          timeout: 10_000
        })
        .not.toContain(listener.protocol)
    }
  )

  it('a listener closed while Kubo is away stops trying to reopen and settles', {
    timeout: 120_000
  }, async () => {
    const fresh = await startPair()
    try {
      const errors: Error[] = []
      const listener = await listenForTransmissions('gone', () => {}, {
        ipfs: fresh.b.ipfs,
        onError: error => void errors.push(error)
      })
      await fresh.b.ipfs.client.p2p.close({ all: true })
      await expect.poll(() => errors.map(error => error.name)).toContain('ListenerTunnelLostError')
      const closing = Date.now()
      await listener.close()
      expect(Date.now() - closing).toBeLessThan(12_000)
      // No tunnel comes back after close.
      expect(await fresh.b.ipfs.client.p2p.ls()).toEqual([])
    } finally {
      await fresh.stop()
    }
  })
})
