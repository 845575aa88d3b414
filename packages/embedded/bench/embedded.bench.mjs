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
// (add) and `content.readStream` (cat) of a 64 MiB file (`--file-mib N` for another size). Both
// keep blocks on disk: the embedded node gets a `repo` directory, as Kubo has its repo. Each
// figure is measured in its own child process (one per mode and workload), so each peak RSS is
// that process's alone. Writes bench/results/embedded-<date>[-quick].json at the repository root.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'file-mib': { type: 'string' },
    worker: { type: 'string' },
    mode: { type: 'string' },
    api: { type: 'string' }
  }
})

const RUNS = values.quick ? 3 : 5
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

// ---- coordinator ---------------------------------------------------------------------------

function runWorker(workload, mode, api) {
  return new Promise((resolve, reject) => {
    const args = [fileURLToPath(import.meta.url), '--worker', workload, '--mode', mode]
    if (api != null) args.push('--api', api)
    if (values.quick) args.push('--quick')
    if (values['file-mib'] != null) args.push('--file-mib', values['file-mib'])
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', chunk => {
      output += chunk
    })
    child.once('exit', code =>
      code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`${mode} ${workload} failed (${code})`))
    )
  })
}

const median = list => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]
const spread = list => ({ median: median(list), min: Math.min(...list), max: Math.max(...list) })

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
  console.log('| metric | unit | embedded | Kubo | ratio | peak RSS embedded / client (+ daemon) (MiB) |')
  console.log('|---|---|---|---|---|---|')
  for (const row of rows) {
    const rss =
      row.ours.peakRssMiB == null
        ? ''
        : `${row.ours.peakRssMiB.toFixed(0)} / ${row.baseline.peakRssMiB.client.toFixed(0)} (+ ${row.baseline.peakRssMiB.daemon.toFixed(0)})`
    console.log(
      `| ${row.metric} | ${row.unit} | ${format(row.ours.median)} (${format(row.ours.min)}–${format(row.ours.max)}) | ${format(row.baseline.median)} (${format(row.baseline.min)}–${format(row.baseline.max)}) | ${row.ratio.toFixed(2)}x | ${rss} |`
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
