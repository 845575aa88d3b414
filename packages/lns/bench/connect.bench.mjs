#!/usr/bin/env node
// Time to connected: `ensureConnected` through a remembered address against the same call finding
// the peer through `routing findpeer`, on a small local DHT, in one run.
//
//   pnpm --filter @tk/lns bench            15 measured runs per path after a warm-up
//   pnpm --filter @tk/lns bench -- --quick 5 runs
//
// Setup: 4 testkit nodes (DHT on, loopback addresses allowed on the LAN DHT), all connected by
// createKuboCluster. Before every run the searcher and the target drop their connection on both
// sides; the two others stay connected to both, so the DHT can find the target. The runs of the two
// paths alternate, so drift on a busy machine hits both alike. Prints a table with the ratio and
// writes bench/results/lns-<date>.json at the repository root.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createIpfs } from '@tk/api'
import { createKuboClient } from '@tk/rpc'
import { createKuboCluster, pinnedKubo } from '@tk/testkit'
import { openContacts } from '../dist/index.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } })
const RUNS = values.quick ? 5 : 15
const NODES = 4

function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  return { median, min: sorted[0], max: sorted.at(-1), samples }
}

async function connectedTo(client, peerId) {
  return (await client.swarm.peers()).some(peer => peer.peerId === peerId)
}

const cluster = await createKuboCluster(NODES)
const searcher = cluster.nodes[0]
const target = cluster.nodes[NODES - 1]
const client = createKuboClient(searcher.apiUrl)
// What contacts take: the searcher's node as @tk/interface's Ipfs (@tk/api over HTTP).
const ipfs = createIpfs({ backend: 'http', api: searcher.apiUrl })
const targetClient = createKuboClient(target.apiUrl)
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-lns-bench-'))
let redials = 0
let discarded = 0

/**
 * Drops the searcher–target connection on both sides and waits until neither lists the other for a
 * moment: the DHT itself sometimes redials a peer it has just lost (to refill its routing table).
 */
async function separate() {
  for (let tries = 0; tries < 20; tries++) {
    await client.swarm.disconnect(`/p2p/${target.peerId}`)
    await targetClient.swarm.disconnect(`/p2p/${searcher.peerId}`)
    await new Promise(resolve => setTimeout(resolve, 200))
    if (!(await connectedTo(client, target.peerId)) && !(await connectedTo(targetClient, searcher.peerId)))
      return
    redials++
  }
  throw new Error('the searcher and the target keep reconnecting by themselves')
}

/** `routing findpeer` by hand: the addresses of the `final-peer` event for the target. */
async function findTarget() {
  for await (const event of client.routing.findpeer(target.peerId)) {
    const found =
      event.type === 'final-peer' ? event.responses.find(peer => peer.id === target.peerId) : undefined
    if (found != null) return found.addresses
  }
  throw new Error('routing findpeer did not find the target')
}

/** Runs each way `RUNS` times after one warm-up, alternating, each from a separated state. */
async function measure(ways) {
  const samples = ways.map(() => [])
  for (let run = -1; run < RUNS; run++) {
    const order = ways.map((_way, index) => index)
    if (run % 2 !== 0) order.reverse()
    for (const index of order) {
      for (;;) {
        const way = ways[index]
        await separate()
        await way.prepare?.()
        const started = performance.now()
        const outcome = await way.run()
        const ms = performance.now() - started
        // Something redialled between the check and the call: this run measured nothing; do it again.
        if (outcome === 'already-connected') {
          discarded++
          continue
        }
        if (!(await connectedTo(client, target.peerId)))
          throw new Error(`${way.name} resolved, not connected`)
        // Run -1 is the warm-up: first dials, first DHT queries, first file writes.
        if (run >= 0) samples[index].push(ms)
        break
      }
    }
    process.stderr.write(run === RUNS - 1 ? '.\n' : '.')
  }
  return samples.map(summarize)
}

const rows = []
try {
  // Both stores hold the target as a contact, so both record the connection they make (a locked,
  // fsynced write): the only difference is whether the contact remembers an address.
  const contacts = await openContacts({ path: path.join(dir, 'contacts.json'), ipfs })
  const forgetful = await openContacts({ path: path.join(dir, 'forgetful.json'), ipfs })
  await contacts.addContact(target.peerId, 'target', { addresses: target.swarmAddrs })
  const expectVia = (via, result) => {
    if (result.via !== via && result.via !== 'already-connected') {
      throw new Error(`expected a connection via ${via}, got ${result.via}`)
    }
    return result.via
  }
  const [remembered, routing] = await measure([
    {
      name: 'remembered address',
      run: async () => expectVia('remembered-address', await contacts.ensureConnected('target'))
    },
    {
      name: 'routing',
      // Outside the timing: a contact that remembers nothing, so routing is the only way.
      prepare: async () => {
        await forgetful.removeContact('target').catch(() => {})
        await forgetful.addContact(target.peerId, 'target')
      },
      run: async () => expectVia('routing', await forgetful.ensureConnected('target'))
    }
  ])
  rows.push({
    area: 'lns reconnect',
    metric: 'ensureConnected, time to connected',
    unit: 'ms',
    ours: remembered,
    baseline: routing,
    oursName: 'remembered address',
    baselineName: `routing findpeer on a local ${NODES}-node DHT`,
    ratio: remembered.median / routing.median,
    higherIsBetter: false
  })
  await contacts.close()
  await forgetful.close()

  // The same two ways with Kubo alone: no store, no `swarm peers` checks, nothing recorded.
  const address = target.swarmAddrs[0]
  const [dial, lookup] = await measure([
    { name: 'swarm connect', run: async () => await client.swarm.connect(address) },
    {
      name: 'routing findpeer + swarm connect',
      run: async () => {
        const found = await findTarget()
        await client.swarm.connect(found.map(entry => `${entry}/p2p/${target.peerId}`))
      }
    }
  ])
  rows.push({
    area: 'lns reconnect',
    metric: 'Kubo alone, time to connected',
    unit: 'ms',
    ours: dial,
    baseline: lookup,
    oursName: 'swarm connect <known address>',
    baselineName: 'routing findpeer + swarm connect',
    ratio: dial.median / lookup.median,
    higherIsBetter: false
  })
  process.stderr.write('\n')
} finally {
  await client.close()
  await ipfs.close()
  await targetClient.close()
  await cluster.stop()
  await fs.rm(dir, { recursive: true, force: true })
}

const environment = {
  date: new Date().toISOString(),
  node: process.version,
  kubo: pinnedKubo().version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  nodes: NODES,
  runs: RUNS,
  quick: values.quick,
  redials,
  discarded
}
const format = value => value.toFixed(1)
const range = summary => `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`
console.log(
  `\nTime to connected on loopback — Kubo ${environment.kubo}, Node ${process.version}, ${environment.cpus} cores, ${NODES}-node local DHT; median of ${RUNS} (min–max), ms\n`
)
console.log('| what | remembered address | routing findpeer | ratio |')
console.log('|---|---|---|---|')
for (const row of rows) {
  console.log(
    `| ${row.metric} | ${range(row.ours)} | ${range(row.baseline)} | **${row.ratio.toFixed(2)}x** |`
  )
}
console.log(`\nratio = remembered / routing (below 1: the remembered address is faster)`)
const results = path.resolve(here, '../../../bench/results')
await fs.mkdir(results, { recursive: true })
const file = path.join(results, `lns-${environment.date.slice(0, 10)}${values.quick ? '-quick' : ''}.json`)
await fs.writeFile(file, `${JSON.stringify({ environment, rows }, null, 2)}\n`)
console.log(`\nwritten to ${path.relative(process.cwd(), file)}`)
