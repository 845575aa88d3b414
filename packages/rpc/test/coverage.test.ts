import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CommandTree, commandPaths, coverage, NOT_OVER_HTTP } from '../src/coverage.js'
import { createKuboClient, type KuboClient } from '../src/index.js'

let node: KuboNode
let client: KuboClient
let tree: CommandTree

beforeAll(async () => {
  node = await createKuboNode()
  client = createKuboClient(node.apiUrl)
  tree = await (await client.request('commands')).json<CommandTree>()
})

afterAll(async () => {
  await client?.close()
  await node?.stop()
})

describe('coverage of the pinned Kubo', () => {
  it('implements every command Kubo serves over HTTP', () => {
    const report = coverage(client, tree)
    expect(report.missing).toEqual([])
    expect(report.covered.length).toBe(report.total)
    expect(report.total).toBeGreaterThan(150)
  })

  it('the commands left out really are not callable over HTTP', async () => {
    const paths = new Set(commandPaths(tree))
    for (const [path, why] of Object.entries(NOT_OVER_HTTP)) {
      expect(paths.has(path), `${path} is in Kubo's tree`).toBe(true)
      const response = await fetch(new URL(`/api/v0/${path}`, node.apiUrl), { method: 'POST' })
      const body = await response.text()
      if (why === 'cli-only') {
        expect(response.status, path).toBe(404)
      } else {
        // A parent without a command of its own answers with nothing.
        expect([response.status, body], path).toEqual([200, ''])
      }
    }
  })

  it('mount reports FUSE’s absence in Kubo’s words', async () => {
    const error = await client.mount().catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('KuboRpcError')
    expect((error as Error).message).toMatch(/fusermount|fuse/i)
  })
})
