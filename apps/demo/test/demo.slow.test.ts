import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createIpfs } from '@tk/api'
import { createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { type AppEvent, jsonLines, runApp, startApp } from './helpers.js'

// Slow: the whole tour on two fresh Kubo nodes (about a minute on 2 cores).

/** Temp folders of testkit nodes that the process `pid` started and left behind. */
async function nodesLeftBy(pid: number): Promise<string[]> {
  const left: string[] = []
  for (const entry of await fs.readdir(os.tmpdir())) {
    if (!entry.startsWith('tk-kubo-')) continue
    const owner = await fs.readFile(path.join(os.tmpdir(), entry, 'owner.json'), 'utf8').catch(() => '{}')
    if ((JSON.parse(owner) as { ownerPid?: number }).ownerPid === pid) left.push(entry)
  }
  return left
}

function stepsOf(events: AppEvent[]): Array<Record<string, unknown>> {
  const summary = events.find(event => event.type === 'summary')
  return (summary?.steps ?? []) as Array<Record<string, unknown>>
}

describe('tk-demo, the tour', () => {
  it('runs every step on two fresh nodes, reports each as it ends and exits 0', async () => {
    await using app = startApp(['--json'])
    const code = await app.exited(170_000)
    expect(code, `${app.stdout}\n${app.stderr}`).toBe(0)

    const events = app.events
    // One event per step as it ends, then the summary, and nothing else: --json output is for machines.
    expect(events.map(event => event.type)).toEqual([...Array(7).fill('step'), 'summary'])
    const summary = events.at(-1)
    expect(summary).toMatchObject({ type: 'summary', ok: true, interrupted: false, leftOut: [] })
    const steps = stepsOf(events)
    expect(steps.map(step => [step.number, step.id, step.status])).toEqual([
      [1, 'nodes', 'ok'],
      [2, 'content', 'ok'],
      [3, 'ipns', 'ok'],
      [4, 'pubsub', 'ok'],
      [5, 'transmission', 'ok'],
      [6, 'file', 'ok'],
      [7, 'contacts', 'ok']
    ])
    const [nodes, content, ipns, pubsub, transmission, file, contacts] = steps.map(
      step => step.details as Record<string, unknown>
    )
    expect(nodes?.peerIdA).not.toBe(nodes?.peerIdB)
    expect(nodes?.backend).toBe('http')
    expect(ipns?.resolved).toBe(`/ipfs/${content?.directoryCid}`)
    expect(pubsub?.messages).toBe(6)
    expect(transmission?.turns).toBe(3)
    expect(file?.bytes).toBe(32 * 1024 * 1024)
    expect(file?.receivedSha256).toBe(file?.sha256)
    expect(file?.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(contacts?.via).toBe('remembered-address')
    expect(steps.every(step => typeof step.milliseconds === 'number' && step.milliseconds > 0)).toBe(true)

    expect(await nodesLeftBy(app.child.pid ?? -1)).toEqual([])
  })

  it('runs the single-node steps on a daemon given with --api, and leaves nothing on it', async () => {
    await using node = await createKuboNode()
    await using ipfs = createIpfs({ api: node.apiMultiaddr })
    const pinsBefore = await ipfs.pins({ cidsOnly: true })

    const run = await runApp(['--api', node.apiMultiaddr])
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0)
    expect(run.stdout).toContain(
      `tk demo: the steps that need one node, on your Kubo at ${node.apiMultiaddr}.`
    )
    expect(run.stdout).toContain(node.peerId)
    const table = run.stdout.slice(run.stdout.indexOf('▶ Summary'))
    expect(table.split('\n').filter(line => /^ {2}\d\/7 /.test(line))).toEqual([
      expect.stringMatching(/^ {2}1\/7 Nodes +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}2\/7 Content +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}3\/7 IPNS +ok +\S+ m?s$/)
    ])
    expect(table).toContain('Not run on a single daemon: Pubsub chat, Transmission, File transfer, Contacts.')
    expect(table).toContain('✔ Everything worked: 3 steps in')
    expect(run.stdout).not.toContain('\u001b[')

    // The tour's key and pins were removed from the user's node.
    expect((await ipfs.listIpnsKeys()).map(key => key.name)).toEqual(['self'])
    expect((await ipfs.pins({ cidsOnly: true })).sort()).toEqual(pinsBefore.sort())
  })

  it('stops its nodes and exits 130 on Ctrl-C', async () => {
    await using app = startApp([])
    // Interrupt once the nodes run and the tour is under way.
    await app.nextOutput(text => text.includes('2/7  Content'), 90_000)
    const code = await app.interrupt()
    expect(code, `${app.stdout}\n${app.stderr}`).toBe(130)
    expect(app.stderr).toContain('Stopping…')
    expect(app.stdout).toMatch(/2\/7 Content +(FAILED|ok)/)
    expect(app.stdout).toMatch(/7\/7 Contacts +skipped/)
    expect(await nodesLeftBy(app.child.pid ?? -1)).toEqual([])
  })

  it('reports a daemon that is not there as a failed first step, skips the rest and exits 1', async () => {
    // Port 9 (discard) is as good as closed on loopback.
    const run = await runApp(['--api', '/ip4/127.0.0.1/tcp/9', '--json'])
    expect(run.code).toBe(1)
    const steps = stepsOf(jsonLines(run.stdout))
    expect(steps.map(step => [step.id, step.status])).toEqual([
      ['nodes', 'failed'],
      ['content', 'skipped'],
      ['ipns', 'skipped']
    ])
    expect(steps[0]?.reason).toMatch(/^NoIpfsNodeError: No IPFS node answered/)
    expect(steps[0]?.advice).toContain('Is your daemon running')
    expect(steps[1]?.reason).toBe('needs step 1 (Nodes), which did not work')
    expect(steps[2]?.reason).toBe('needs step 1 (Nodes), which did not work')
  })
})
