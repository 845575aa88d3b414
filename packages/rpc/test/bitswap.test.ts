import { randomBytes } from 'node:crypto'
import type { KuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { createBitswapCommands } from '../src/commands/bitswap.js'
import { createProvideCommands } from '../src/commands/provide.js'
import { createRootCommands } from '../src/commands/root.js'
import { collect, commandsOn, eventually, sha256, useTwoAndLonely } from './helpers.js'

const commandsFor = (node: KuboNode | undefined) =>
  commandsOn(node, {
    bitswap: createBitswapCommands,
    root: createRootCommands,
    provide: createProvideCommands
  })

// C, connected to nobody, has the legacy provider: the only one the deprecated `bitswap reprovide` can drive.
const nodes = useTwoAndLonely(commandsFor, {
  lonely: { config: { Provide: { DHT: { SweepEnabled: false } } } }
})

describe('bitswap between two nodes', () => {
  it('after B fetches a block from A, both ledgers and both stats count it', async () => {
    const { a, b } = nodes
    const bytes = randomBytes(20_000)
    // One raw block, so the bytes bitswap moves are exactly the content.
    const added = await a.root.add(bytes, { cidVersion: 1, rawLeaves: true })
    const [statA, statB] = await Promise.all([a.bitswap.stat(), b.bitswap.stat()])

    expect(sha256(await collect(b.root.cat(added.cid)))).toBe(sha256(bytes))

    const ledgerA = await a.bitswap.ledger(b.node.peerId)
    expect(ledgerA.peer).toBe(b.node.peerId)
    expect(ledgerA.sent).toBeGreaterThanOrEqual(bytes.byteLength)
    expect(ledgerA.exchanged).toBeGreaterThanOrEqual(1)
    expect(ledgerA.value).toBeCloseTo(ledgerA.sent / (ledgerA.received + 1))
    const ledgerB = await b.bitswap.ledger(a.node.peerId)
    expect(ledgerB.received).toBe(ledgerA.sent)

    const [afterA, afterB] = await Promise.all([a.bitswap.stat(), b.bitswap.stat()])
    expect(afterB.blocksReceived).toBe(statB.blocksReceived + 1)
    expect(afterB.dataReceived).toBe(statB.dataReceived + bytes.byteLength)
    expect(afterB.duplicateBlocksReceived).toBe(statB.duplicateBlocksReceived)
    expect(afterB.messagesReceived).toBeGreaterThan(statB.messagesReceived)
    expect(afterA.blocksSent).toBe(statA.blocksSent + 1)
    expect(afterA.dataSent).toBe(statA.dataSent + bytes.byteLength)
    expect(afterB.wantlist).not.toContain(added.cid)
  })

  it("a block nobody has stays on B's wantlist, which A also sees, until B gives up", async () => {
    const { a, b } = nodes
    const missing = (await b.root.add(randomBytes(100), { cidVersion: 1, rawLeaves: true, onlyHash: true }))
      .cid
    const controller = new AbortController()
    const fetching = collect(b.root.cat(missing, { signal: controller.signal })).catch(
      (error: unknown) => error as Error
    )
    try {
      const wanted = await eventually(
        async () => await b.bitswap.wantlist(),
        keys => keys.includes(missing)
      )
      expect(wanted).toContain(missing)
      expect((await b.bitswap.stat()).wantlist).toContain(missing)
      const seenByA = await eventually(
        async () => await a.bitswap.wantlist({ peer: b.node.peerId }),
        keys => keys.includes(missing)
      )
      expect(seenByA).toContain(missing)
      // Asking for one's own id is the same as asking for one's own wantlist.
      expect(await b.bitswap.wantlist({ peer: b.node.peerId })).toContain(missing)
    } finally {
      controller.abort()
    }
    expect(await fetching).toMatchObject({ name: 'AbortError' })
    const after = await eventually(
      async () => await b.bitswap.wantlist(),
      keys => !keys.includes(missing)
    )
    expect(after).not.toContain(missing)
  })
})

describe('bitswap reprovide (deprecated alias of routing reprovide)', () => {
  it('with the default sweep provider, Kubo refuses', async () => {
    const { a } = nodes
    const refused = await a.bitswap.reprovide().catch((error: unknown) => error as Error)
    expect(refused).toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        "manual reprovide is not available with the sweep provider; set Provide.DHT.SweepEnabled=false to use the legacy provider, or run 'ipfs provide stat --all' to monitor the sweep schedule"
    })
  })

  it('with the legacy provider, it runs a cycle', async () => {
    const { c } = nodes
    await c.root.add('something to reprovide')
    const before = await c.provide.stat()
    await c.bitswap.reprovide()
    const after = await c.provide.stat()
    if (before.type !== 'legacy' || after.type !== 'legacy') throw new Error('expected the legacy provider')
    expect(after.lastReprovideBatchSize).toBeGreaterThan(0)
    expect(after.totalReprovides).toBe(before.totalReprovides + after.lastReprovideBatchSize)
  })
})

describe('bitswap arguments', () => {
  it('rejects bad input before any request', async () => {
    const { a } = nodes
    await expect(a.bitswap.ledger('QmNope')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peerId'
    })
    await expect(a.bitswap.wantlist({ peer: 'nope' })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'peer'
    })
  })
})
