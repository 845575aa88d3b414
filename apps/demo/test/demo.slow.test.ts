import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createIpfs } from '@tk/api'
import { createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { App, type AppEvent, jsonLines, rawLeafCid, runApp, startApp, temporaryDirectory } from './helpers.js'

// Slow: the whole tour in each mode (seconds each on an idle machine, tens on a busy one).

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

type Step = Record<string, unknown> & { details?: Record<string, unknown> }

function stepsOf(events: AppEvent[]): Step[] {
  const summary = events.find(event => event.type === 'summary')
  return (summary?.steps ?? []) as Step[]
}

function detailsOf(steps: Step[], id: string): Record<string, unknown> {
  const step = steps.find(candidate => candidate.id === id)
  expect(step?.status, `step ${id}: ${JSON.stringify(step)}`).toBe('ok')
  return step?.details ?? {}
}

/**
 * The album the content step publishes (apps/demo/src/steps/content.ts) has this CID on Kubo and
 * on the embedded node alike: both chunk and lay out a directory the same way (CIDv1, raw leaves).
 */
const ALBUM_CID = 'bafybeifpl3qscmo5gqslh67jiiqtvzavflqz6jb5ktuqra5x6idezx4apq'
/** The pubsub step's script (apps/demo/src/steps/pubsub-chat.ts). */
const SAID_BY_A = ['Hi B, are you there?', 'Lunch at noon?', 'The usual place.']
const SAID_BY_B = ['Hi A, loud and clear.', 'Sure. The usual place?', 'See you there.']
/** B's replies in the transmission step's conversation (apps/demo/src/steps/transmission.ts). */
const REPLIES = [
  'Sure, it is on IPFS already.',
  'Resolve my IPNS name, it always points at the latest.',
  'Bye!'
]

/**
 * Checks what the steps every mode runs reported: the nodes, the content both ways (CIDs computed
 * here from the reported text), IPNS resolved on B to what A published, the chat heard in full.
 * Returns the two peer ids.
 */
function checkCommonSteps(
  steps: Step[],
  kinds: { a: string; b: string }
): { peerIdA: string; peerIdB: string } {
  const nodes = detailsOf(steps, 'nodes')
  expect(nodes).toMatchObject({ nodeA: kinds.a, nodeB: kinds.b })
  const peerIdA = String(nodes.peerIdA)
  const peerIdB = String(nodes.peerIdB)
  expect(peerIdA).toMatch(/^12D3KooW\w{44}$/)
  expect(peerIdB).toMatch(/^12D3KooW\w{44}$/)
  expect(peerIdA).not.toBe(peerIdB)

  const content = detailsOf(steps, 'content')
  const fileText = String(content.fileText)
  expect(fileText).toContain(`Hello from A (${peerIdA})`)
  expect(content.fileCid).toBe(rawLeafCid(new TextEncoder().encode(fileText)))
  expect(content.directoryCid).toBe(ALBUM_CID)
  expect(content.readBy).toBe(peerIdB)
  const replyText = String(content.replyText)
  expect(replyText).toContain(`Hello back from B (${peerIdB})`)
  expect(content.replyCid).toBe(rawLeafCid(new TextEncoder().encode(replyText)))
  expect(content.replyReadBy).toBe(peerIdA)

  const ipns = detailsOf(steps, 'ipns')
  expect(ipns.name).toMatch(/^k51\w+$/)
  expect(ipns.firstResolved).toBe(`/ipfs/${content.fileCid}`)
  expect(ipns.resolved).toBe(`/ipfs/${ALBUM_CID}`)
  expect(ipns).toMatchObject({ publishedBy: peerIdA, resolvedBy: peerIdB })

  const pubsub = detailsOf(steps, 'pubsub')
  expect(pubsub.messages).toBe(6)
  expect(pubsub.heardByB).toBe(SAID_BY_A.join('\n'))
  expect(pubsub.heardByA).toBe(SAID_BY_B.join('\n'))
  return { peerIdA, peerIdB }
}

function checkTransmissionSteps(steps: Step[], peerIdA: string, size: number): void {
  const transmission = detailsOf(steps, 'transmission')
  expect(transmission.message).toMatch(/^Hello B, this is A at \d{4}-\d\d-\d\dT/)
  expect(transmission.receivedFrom).toBe(peerIdA)
  expect(transmission.turns).toBe(3)
  expect(transmission.replies).toBe(REPLIES.join('\n'))
  const file = detailsOf(steps, 'file')
  expect(file.bytes).toBe(size)
  expect(file.sha256).toMatch(/^[0-9a-f]{64}$/)
  expect(file.receivedSha256).toBe(file.sha256)
}

function checkContactsStep(steps: Step[], peerIdB: string): void {
  const contacts = detailsOf(steps, 'contacts')
  expect(contacts).toMatchObject({ contact: 'bob', peerId: peerIdB, via: 'remembered-address' })
  expect(contacts.address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
}

/** The steps' numbers, ids and statuses. */
function statuses(steps: Step[]): Array<[unknown, unknown, unknown]> {
  return steps.map(step => [step.number, step.id, step.status])
}

const EVERY_STEP_OK = [
  [1, 'nodes', 'ok'],
  [2, 'content', 'ok'],
  [3, 'ipns', 'ok'],
  [4, 'pubsub', 'ok'],
  [5, 'transmission', 'ok'],
  [6, 'file', 'ok'],
  [7, 'contacts', 'ok']
]

/**
 * An environment in which no Kubo can be found or built: PATH holds only the directory of the
 * Node running the tests, and HOME (with the tk cache under it) is an empty folder.
 */
function environmentWithoutKubo(home: string): NodeJS.ProcessEnv {
  return {
    PATH: path.dirname(process.execPath),
    HOME: home,
    XDG_CACHE_HOME: path.join(home, '.cache'),
    NO_COLOR: '1',
    TK_CONTACTS: path.join(home, 'contacts.json')
  }
}

describe('tk-demo, the tour', () => {
  it('runs on two embedded nodes by default, with no Kubo or Go anywhere it could look', async () => {
    await using home = await temporaryDirectory()
    const nodeDirectory = path.dirname(process.execPath)
    // The premise: nothing on this PATH could be Kubo or build it.
    expect(existsSync(path.join(nodeDirectory, 'ipfs')) || existsSync(path.join(nodeDirectory, 'go'))).toBe(
      false
    )
    const env = environmentWithoutKubo(home.path)

    await using app = new App(['--json', '--size', '4'], env)
    const code = await app.exited(120_000)
    expect(code, `${app.stdout}\n${app.stderr}`).toBe(0)
    const events = app.events
    expect(events.map(event => event.type)).toEqual([...Array(7).fill('step'), 'summary'])
    expect(events.at(-1)).toMatchObject({ type: 'summary', mode: 'embedded', ok: true, interrupted: false })
    const steps = stepsOf(events)
    expect(statuses(steps)).toEqual(EVERY_STEP_OK)
    const { peerIdA, peerIdB } = checkCommonSteps(steps, { a: 'embedded', b: 'embedded' })
    checkTransmissionSteps(steps, peerIdA, 4 * 1024 * 1024)
    checkContactsStep(steps, peerIdB)

    // The control: in the same environment the Kubo tour cannot start, and says why.
    await using kubo = new App(['--kubo', '--json'], env)
    expect(await kubo.exited(60_000)).toBe(1)
    expect(stepsOf(kubo.events)[0]).toMatchObject({ id: 'nodes', status: 'failed' })
    expect(stepsOf(kubo.events)[0]?.reason).toMatch(
      /^KuboNotFoundError: No usable Kubo \(ipfs\) binary was found/
    )
    expect(stepsOf(kubo.events)[0]?.advice).toContain(
      '`npm run demo` (no --kubo) runs the tour on embedded nodes'
    )
  })

  it('prints the embedded tour as text: what the nodes are, each step, a summary table', async () => {
    const run = await runApp([])
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0)
    expect(run.stdout).toContain('tk demo: two embedded IPFS nodes in this process, A and B')
    expect(run.stdout.match(/an embedded node \(Helia, js-libp2p\) in this process/g)).toHaveLength(2)
    // The default file of 32 MiB, checked on arrival.
    expect(run.stdout).toMatch(/B saved it as .*random-32MiB\.bin, SHA-256 [0-9a-f]{16}… \(the same\)/)
    const table = run.stdout.slice(run.stdout.indexOf('▶ Summary'))
    expect(table.split('\n').filter(line => /^ {2}\d\/7 /.test(line))).toEqual([
      expect.stringMatching(/^ {2}1\/7 Nodes +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}2\/7 Content +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}3\/7 IPNS +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}4\/7 Pubsub chat +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}5\/7 Transmission +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}6\/7 File transfer +ok +\S+ m?s$/),
      expect.stringMatching(/^ {2}7\/7 Contacts +ok +\S+ m?s$/)
    ])
    expect(table).toContain('✔ Everything worked: 7 steps in')
    expect(run.stdout).not.toContain('\u001b[')
  })

  it('runs every step on two Kubo nodes with --kubo, reports each as it ends and exits 0', async () => {
    await using app = startApp(['--kubo', '--json', '--size', '4'])
    const code = await app.exited(170_000)
    expect(code, `${app.stdout}\n${app.stderr}`).toBe(0)

    const events = app.events
    // One event per step as it ends, then the summary, and nothing else: --json output is for machines.
    expect(events.map(event => event.type)).toEqual([...Array(7).fill('step'), 'summary'])
    expect(events.at(-1)).toMatchObject({
      type: 'summary',
      mode: 'kubo',
      ok: true,
      interrupted: false,
      leftOut: []
    })
    const steps = stepsOf(events)
    expect(statuses(steps)).toEqual(EVERY_STEP_OK)
    expect(detailsOf(steps, 'nodes').backend).toBe('http')
    const { peerIdA, peerIdB } = checkCommonSteps(steps, { a: 'kubo', b: 'kubo' })
    checkTransmissionSteps(steps, peerIdA, 4 * 1024 * 1024)
    checkContactsStep(steps, peerIdB)
    expect(steps.every(step => typeof step.milliseconds === 'number' && step.milliseconds > 0)).toBe(true)

    expect(await nodesLeftBy(app.child.pid ?? -1)).toEqual([])
  })

  it('runs a Kubo node and an embedded node together with --mixed, every step crossing between them', async () => {
    await using app = startApp(['--mixed', '--json', '--size', '4'])
    const code = await app.exited(170_000)
    expect(code, `${app.stdout}\n${app.stderr}`).toBe(0)
    const events = app.events
    expect(events.at(-1)).toMatchObject({ type: 'summary', mode: 'mixed', ok: true, interrupted: false })
    const steps = stepsOf(events)
    expect(statuses(steps)).toEqual(EVERY_STEP_OK)
    // A (Kubo) published what B (embedded) fetched and the other way round; the album got the
    // same CID on Kubo here as on the embedded node in the default tour.
    const { peerIdA, peerIdB } = checkCommonSteps(steps, { a: 'kubo', b: 'embedded' })
    // Kubo's stream mounting on A talks to the embedded node's libp2p streams on B.
    checkTransmissionSteps(steps, peerIdA, 4 * 1024 * 1024)
    // Kubo reconnects to the embedded node by its contact name.
    checkContactsStep(steps, peerIdB)

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

  it('stops its Kubo nodes and exits 130 on Ctrl-C', async () => {
    await using app = startApp(['--kubo'])
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
