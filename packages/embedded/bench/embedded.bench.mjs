#!/usr/bin/env node
// The embedded node (@tk/embedded) beside a testkit Kubo daemon (through @tk/api over HTTP), in
// one run, on the same machine and the same data:
//
//   pnpm --filter @tk/embedded bench            full: 5 measured runs per figure after a warm-up
//   pnpm --filter @tk/embedded bench --quick    3 runs
//
// Figures: start time (embedded: import + createEmbeddedIpfs in a fresh process; Kubo: `ipfs
// daemon` until its API answers, as @tk/testkit measures it), RSS once started and after one
// small publish (the embedded process; the Kubo daemon's process), and MB/s of `content.publish`
// (add) and `content.readStream` (cat) of a 64 MiB file (`--file-mib N` for another size), and
// @tk/transmission over each mode's `ipfs.streams` (createTransmission): transmitFile MB/s of the
// same file and the p50 of a 1 KiB transmitData, between two embedded nodes in one process and
// between two Kubo daemons (the worker holds both clients). Both
// keep blocks on disk: the embedded node gets a `repo` directory, as Kubo has its repo. Each
// figure is measured in its own child process (one per mode and workload), so each peak RSS is
// that process's alone. Writes bench/results/embedded-<date>[-quick].json at the repository root.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as bench from '../../../scripts/bench-helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'file-mib': { type: 'string' },
    worker: { type: 'string' },
    mode: { type: 'string' },
    api: { type: 'string' },
    'api-b': { type: 'string' }
  }
})

const RUNS = values.quick ? 3 : 5
/** Sequential 1 KiB transmitData calls whose latencies give the p50. */
const MESSAGES = values.quick ? 100 : 300
const FILE_SIZE = Number(values['file-mib'] ?? 64) * 1024 * 1024
const CHUNK = 1024 * 1024

/** The same bytes every time (distinct per MiB, so no two chunks dedupe). */
async function* fileSource() {
  const block = randomBytes(CHUNK)
  for (let index = 0; index < FILE_SIZE / CHUNK; index++) {
    const chunk = Buffer.from(block)
    for (let offset = 0; offset < CHUNK; offset += 65536)
      chunk.writeUInt32BE(index * 16 + offset / 65536, offset)
    yield chunk
  }
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20

/** VmRSS of another process (the Kubo daemon), MiB. */
async function processRssMiB(pid) {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1])
  return kib / 1024
}

// ---- worker: one mode, one workload, in its own process -----------------------------------

async function openNode(mode, repo) {
  if (mode === 'embedded') {
    const { createEmbeddedIpfs } = await import('../dist/index.js')
    return await createEmbeddedIpfs({ repo })
  }
  const { createIpfs } = await import('@tk/api')
  return createIpfs({ backend: 'http', api: values.api })
}

async function worker() {
  const repo = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-embedded-bench-'))
  try {
    if (values.worker === 'start') {
      // One measurement per process: a second start in the same process would find modules loaded.
      const started = performance.now()
      const { createEmbeddedIpfs } = await import('../dist/index.js')
      const imported = performance.now()
      const ipfs = await createEmbeddedIpfs({ repo })
      const ready = performance.now()
      const startedRss = rssMiB()
      await ipfs.content.publish(randomBytes(1024))
      const publishedRss = rssMiB()
      await ipfs.close()
      return {
        importMs: imported - started,
        startMs: ready - imported,
        totalMs: ready - started,
        startedRss,
        publishedRss
      }
    }
    if (values.worker === 'transmit') return await transmitWorker(repo)
    const ipfs = await openNode(values.mode, repo)
    const workloads = {
      add: async () => {
        await ipfs.content.publish(fileSource(), { pin: false })
        return FILE_SIZE
      },
      cat: async cid => {
        let bytes = 0
        for await (const chunk of ipfs.content.readStream(cid)) bytes += chunk.byteLength
        if (bytes !== FILE_SIZE) throw new Error(`cat returned ${bytes} bytes, expected ${FILE_SIZE}`)
        return bytes
      }
    }
    const cid = values.worker === 'cat' ? await ipfs.content.publish(fileSource()) : undefined
    const run = workloads[values.worker]
    await run(cid) // warm-up
    const seconds = []
    let amount = 0
    for (let index = 0; index < RUNS; index++) {
      const started = process.hrtime.bigint()
      amount = await run(cid)
      seconds.push(Number(process.hrtime.bigint() - started) / 1e9)
    }
    await ipfs.close()
    return { rates: seconds.map(time => amount / time), peakRss: process.resourceUsage().maxRSS * 1024 }
  } finally {
    await fs.rm(repo, { recursive: true, force: true })
  }
}

/**
 * @tk/transmission is not a dependency of this package: it depends on this one for its tests, and
 * a dependency back would be a build cycle. The bench loads the workspace's build by path.
 */
async function loadTransmission() {
  return await import(path.resolve(here, '../../transmission/dist/index.js'))
}

/** transmitFile MB/s and the 1 KiB transmitData p50 from node a to node b of one mode. */
async function transmitWorker(repo) {
  const { createTransmission } = await loadTransmission()
  const closers = []
  try {
    let a
    let b
    if (values.mode === 'embedded') {
      const { createEmbeddedIpfs } = await import('../dist/index.js')
      a = await createEmbeddedIpfs({ repo: path.join(repo, 'a') })
      closers.push(() => a.close())
      b = await createEmbeddedIpfs({ repo: path.join(repo, 'b') })
      closers.push(() => b.close())
      await a.peers.connect((await b.addresses())[0])
    } else {
      const { createIpfs } = await import('@tk/api')
      a = createIpfs({ backend: 'http', api: values.api })
      closers.push(() => a.close())
      b = createIpfs({ backend: 'http', api: values['api-b'] })
      closers.push(() => b.close())
    }
    const sender = createTransmission({ streams: a.streams })
    closers.push(() => sender.close())
    const receiver = createTransmission({ streams: b.streams })
    closers.push(() => receiver.close())
    const peer = await b.peerId()
    const inbox = path.join(repo, 'inbox')
    await fs.mkdir(inbox)
    await receiver.listenForFileTransmissions(
      'tk-bench-file',
      async file => await fs.rm(file.path, { force: true }),
      {
        directory: inbox
      }
    )
    await receiver.listenForTransmissions('tk-bench-data', () => {})
    const file = path.join(repo, 'file.bin')
    const handle = await fs.open(file, 'w')
    for await (const chunk of fileSource()) await handle.write(chunk)
    await handle.close()

    const sendFile = async () => {
      const started = process.hrtime.bigint()
      await sender.transmitFile(file, peer, 'tk-bench-file')
      return FILE_SIZE / (Number(process.hrtime.bigint() - started) / 1e9)
    }
    await sendFile() // warm-up
    const rates = []
    for (let index = 0; index < RUNS; index++) rates.push(await sendFile())

    const message = randomBytes(1024)
    for (let index = 0; index < 20; index++) await sender.transmitData(message, peer, 'tk-bench-data') // warm-up
    const latencies = []
    for (let index = 0; index < MESSAGES; index++) {
      const started = process.hrtime.bigint()
      await sender.transmitData(message, peer, 'tk-bench-data')
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    return { rates, latencies, peakRss: process.resourceUsage().maxRSS * 1024 }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {})
  }
}

// ---- coordinator ---------------------------------------------------------------------------

function runWorker(workload, mode, api, apiB) {
  const args = ['--worker', workload, '--mode', mode]
  if (api != null) args.push('--api', api)
  if (apiB != null) args.push('--api-b', apiB)
  if (values.quick) args.push('--quick')
  if (values['file-mib'] != null) args.push('--file-mib', values['file-mib'])
  return bench.runWorker(fileURLToPath(import.meta.url), args, `${mode} ${workload}`)
}

const { median, spread } = bench

async function coordinator() {
  const { createKuboNode, pinnedKubo } = await import('@tk/testkit')
  const baselineName = `Kubo ${pinnedKubo().version} daemon (@tk/api over HTTP)`
  const rows = []

  // Start time and RSS: RUNS fresh embedded processes, RUNS fresh Kubo daemons, alternating.
  const embeddedStarts = []
  const kuboStarts = []
  for (let index = 0; index < RUNS; index++) {
    embeddedStarts.push(await runWorker('start', 'embedded'))
    const node = await createKuboNode()
    try {
      const steps = Object.fromEntries(node.startSteps.map(step => [step.name, step.ms]))
      const startedRss = await processRssMiB(node.pid)
      const { createIpfs } = await import('@tk/api')
      const ipfs = createIpfs({ backend: 'http', api: node.apiUrl })
      await ipfs.content.publish(randomBytes(1024))
      await ipfs.close()
      kuboStarts.push({
        startMs: (steps.start ?? 0) + (steps.ready ?? 0),
        startedRss,
        publishedRss: await processRssMiB(node.pid)
      })
    } finally {
      await node.stop()
    }
  }
  const startRow = (metric, unit, ours, baseline, higherIsBetter, baselineMetric) => {
    const row = {
      area: 'embedded',
      metric,
      unit,
      ours: spread(ours),
      baseline: spread(baseline),
      baselineName,
      higherIsBetter
    }
    if (baselineMetric != null) row.baselineMetric = baselineMetric
    row.ratio = row.ours.median / row.baseline.median
    rows.push(row)
    console.error(`  ${metric}: ${row.ours.median.toFixed(0)} vs ${row.baseline.median.toFixed(0)} ${unit}`)
  }
  startRow(
    'start (import + createEmbeddedIpfs) vs daemon start until API ready',
    'ms',
    embeddedStarts.map(start => start.totalMs),
    kuboStarts.map(start => start.startMs),
    false
  )
  startRow(
    'of which createEmbeddedIpfs (modules loaded)',
    'ms',
    embeddedStarts.map(start => start.startMs),
    kuboStarts.map(start => start.startMs),
    false
  )
  startRow(
    'RSS once started',
    'MiB',
    embeddedStarts.map(start => start.startedRss),
    kuboStarts.map(start => start.startedRss),
    false
  )
  startRow(
    'RSS after one 1 KiB publish',
    'MiB',
    embeddedStarts.map(start => start.publishedRss),
    kuboStarts.map(start => start.publishedRss),
    false
  )

  // add / cat: one Kubo daemon for the baseline workers.
  const node = await createKuboNode()
  try {
    for (const workload of ['add', 'cat']) {
      const ours = await runWorker(workload, 'embedded')
      const theirs = await runWorker(workload, 'kubo', node.apiUrl)
      const rates = result => spread(result.rates.map(rate => rate / 1e6))
      const row = {
        area: 'embedded',
        metric: `${workload === 'add' ? 'content.publish (add)' : 'content.readStream (cat)'} ${FILE_SIZE / 2 ** 20} MiB`,
        unit: 'MB/s',
        ours: { ...rates(ours), peakRssMiB: ours.peakRss / 2 ** 20 },
        // The daemon's memory is not in the client process's peak: its RSS after the run beside it.
        baseline: {
          ...rates(theirs),
          peakRssMiB: { client: theirs.peakRss / 2 ** 20, daemon: await processRssMiB(node.pid) }
        },
        baselineName,
        higherIsBetter: true
      }
      row.ratio = row.ours.median / row.baseline.median
      rows.push(row)
      console.error(`  ${row.metric}: ${row.ratio.toFixed(2)}x`)
    }
  } finally {
    await node.stop()
  }

  // transmitFile / transmitData over each mode's streams: two embedded nodes, two Kubo daemons.
  const { createKuboCluster } = await import('@tk/testkit')
  const pair = await createKuboCluster(2)
  try {
    const [kuboA, kuboB] = pair.nodes
    const ours = await runWorker('transmit', 'embedded')
    const theirs = await runWorker('transmit', 'kubo', kuboA.apiUrl, kuboB.apiUrl)
    const fileRow = {
      area: 'embedded',
      metric: `transmitFile ${FILE_SIZE / 2 ** 20} MiB (@tk/transmission on ipfs.streams)`,
      unit: 'MB/s',
      ours: { ...spread(ours.rates.map(rate => rate / 1e6)), peakRssMiB: ours.peakRss / 2 ** 20 },
      baseline: {
        ...spread(theirs.rates.map(rate => rate / 1e6)),
        peakRssMiB: {
          client: theirs.peakRss / 2 ** 20,
          daemons: (await processRssMiB(kuboA.pid)) + (await processRssMiB(kuboB.pid))
        }
      },
      baselineName,
      higherIsBetter: true
    }
    fileRow.ratio = fileRow.ours.median / fileRow.baseline.median
    rows.push(fileRow)
    const p50 = list => median(list)
    const dataRow = {
      area: 'embedded',
      metric: `transmitData 1 KiB, p50 of ${MESSAGES} sequential`,
      unit: 'ms',
      ours: p50(ours.latencies),
      baseline: p50(theirs.latencies),
      baselineName,
      higherIsBetter: false
    }
    dataRow.ratio = dataRow.ours / dataRow.baseline
    rows.push(dataRow)
    console.error(
      `  ${fileRow.metric}: ${fileRow.ratio.toFixed(2)}x; ${dataRow.metric}: ${dataRow.ratio.toFixed(2)}x`
    )
  } finally {
    await pair.stop()
  }

  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    kubo: pinnedKubo().version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    runs: RUNS,
    quick: values.quick
  }
  const format = value => (value >= 100 ? value.toFixed(0) : value.toFixed(1))
  console.log(
    `\n@tk/embedded vs a Kubo daemon — Kubo ${environment.kubo}, Node ${process.version}, ${environment.cpus} cores; median of ${RUNS} (min–max)\n`
  )
  console.log(
    '| metric | unit | embedded | Kubo | ratio | peak RSS embedded / Kubo client, daemon(s) (MiB) |'
  )
  console.log('|---|---|---|---|---|---|')
  const cell = value =>
    typeof value === 'number'
      ? format(value)
      : `${format(value.median)} (${format(value.min)}–${format(value.max)})`
  const rssCell = value =>
    value == null
      ? ''
      : typeof value === 'number'
        ? value.toFixed(0)
        : Object.entries(value)
            .map(([side, mib]) => `${side} ${mib.toFixed(0)}`)
            .join(', ')
  for (const row of rows) {
    const rss =
      row.ours.peakRssMiB == null
        ? ''
        : `${rssCell(row.ours.peakRssMiB)} / ${rssCell(row.baseline.peakRssMiB)}`
    console.log(
      `| ${row.metric} | ${row.unit} | ${cell(row.ours)} | ${cell(row.baseline)} | ${row.ratio.toFixed(2)}x | ${rss} |`
    )
  }
  const results = path.resolve(here, '../../../bench/results')
  await fs.mkdir(results, { recursive: true })
  const file = path.join(
    results,
    `embedded-${environment.date.slice(0, 10)}${values.quick ? '-quick' : ''}.json`
  )
  await fs.writeFile(file, `${JSON.stringify({ environment, rows }, null, 2)}\n`)
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`)
}

if (values.worker != null) process.stdout.write(`${JSON.stringify(await worker())}\n`)
else await coordinator()
