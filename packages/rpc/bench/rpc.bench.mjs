#!/usr/bin/env node
// @tk/rpc against kubo-rpc-client 7, side by side on one fresh testkit daemon, in one run.
//
//   pnpm --filter @tk/rpc bench            full: 5 measured runs per figure after a warm-up
//   pnpm --filter @tk/rpc bench -- --quick 3 runs, smaller sizes
//
// Each figure is measured in its own child process (one per client and workload), so the peak
// RSS reported is that client's alone. Figures: calls/s of `id` and of 1 KiB `block/put` (16 in
// flight), MB/s of `add` and `cat` of a 256 MiB file (`--file-mib N` for another size; `pnpm bench`
// uses 1024). Prints a table with ratios (ours / theirs)
// and writes bench/results/rpc-<date>.json at the repository root.
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as bench from '../../../scripts/bench-helpers.mjs'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'file-mib': { type: 'string' },
    worker: { type: 'string' },
    client: { type: 'string' },
    api: { type: 'string' },
    cid: { type: 'string' }
  }
})

const RUNS = values.quick ? 3 : 5
const CALLS = values.quick ? 500 : 2000
const CONCURRENCY = 16
const FILE_SIZE = Number(values['file-mib'] ?? (values.quick ? 64 : 256)) * 1024 * 1024

// ---- worker: one client, one workload, in its own process ----------------------------------

async function makeClient(kind, api) {
  if (kind === 'ours') {
    const { createKuboClient } = await import('../dist/index.js')
    const client = createKuboClient(api)
    return {
      id: () => client.id(),
      blockPut: bytes => client.block.put(bytes),
      add: source => client.add(source, { pin: false }).then(result => result.cid),
      cat: cid => client.cat(cid),
      close: () => client.close()
    }
  }
  const { create } = await import('kubo-rpc-client')
  const client = create({ url: `${api}/api/v0` })
  return {
    id: () => client.id(),
    blockPut: bytes => client.block.put(bytes),
    add: source => client.add(source, { pin: false }).then(result => result.cid.toString()),
    cat: cid => client.cat(cid),
    close: async () => {}
  }
}

/** The test file: 1 MiB chunks of random bytes, each unique. */
const fileSource = () => bench.fileChunks(FILE_SIZE, randomBytes(bench.FILE_CHUNK))

async function worker() {
  const client = await makeClient(values.client, values.api)
  const block = randomBytes(1024)
  const workloads = {
    id: async () => {
      await bench.inParallel(CALLS, CONCURRENCY, () => client.id())
      return CALLS
    },
    'block-put': async () => {
      await bench.inParallel(CALLS, CONCURRENCY, () => {
        block.writeUInt32BE(Math.floor(Math.random() * 2 ** 32), 0)
        return client.blockPut(new Uint8Array(block))
      })
      return CALLS
    },
    add: async () => {
      await client.add(fileSource())
      return FILE_SIZE
    },
    cat: async () => {
      let bytes = 0
      for await (const chunk of client.cat(values.cid)) bytes += chunk.byteLength
      if (bytes !== FILE_SIZE) throw new Error(`cat returned ${bytes} bytes, expected ${FILE_SIZE}`)
      return bytes
    }
  }
  const run = workloads[values.worker]
  await run() // warm-up
  const seconds = []
  let amount = 0
  for (let index = 0; index < RUNS; index++) {
    const started = process.hrtime.bigint()
    amount = await run()
    seconds.push(Number(process.hrtime.bigint() - started) / 1e9)
  }
  await client.close()
  const rates = seconds.map(time => amount / time)
  process.stdout.write(`${JSON.stringify({ rates, peakRss: process.resourceUsage().maxRSS * 1024 })}\n`)
}

// ---- coordinator ---------------------------------------------------------------------------

function runWorker(workload, client, api, cid) {
  const args = ['--worker', workload, '--client', client, '--api', api]
  if (cid != null) args.push('--cid', cid)
  if (values.quick) args.push('--quick')
  if (values['file-mib'] != null) args.push('--file-mib', values['file-mib'])
  return bench.runWorker(fileURLToPath(import.meta.url), args, `${client} ${workload}`)
}

const { median } = bench

async function coordinator() {
  const { createKuboNode } = await import('@tk/testkit')
  const { createKuboClient } = await import('../dist/index.js')
  const node = await createKuboNode()
  const rows = []
  try {
    const setup = createKuboClient(node.apiUrl)
    const { cid } = await setup.add(fileSource(), { cidVersion: 1, rawLeaves: true })
    await setup.close()
    const figures = [
      { workload: 'id', metric: 'id calls/s', unit: 'calls/s', scale: 1 },
      { workload: 'block-put', metric: 'block/put 1 KiB calls/s', unit: 'calls/s', scale: 1 },
      { workload: 'add', metric: `add ${FILE_SIZE / 2 ** 20} MiB`, unit: 'MB/s', scale: 1e-6 },
      { workload: 'cat', metric: `cat ${FILE_SIZE / 2 ** 20} MiB`, unit: 'MB/s', scale: 1e-6 }
    ]
    for (const figure of figures) {
      const ours = await runWorker(figure.workload, 'ours', node.apiUrl, cid)
      const theirs = await runWorker(figure.workload, 'kubo-rpc-client', node.apiUrl, cid)
      const summary = result => ({
        median: median(result.rates) * figure.scale,
        min: Math.min(...result.rates) * figure.scale,
        max: Math.max(...result.rates) * figure.scale,
        peakRssMiB: result.peakRss / 2 ** 20
      })
      const row = {
        area: 'rpc',
        metric: figure.metric,
        unit: figure.unit,
        ours: summary(ours),
        baseline: summary(theirs),
        baselineName: 'kubo-rpc-client 7',
        higherIsBetter: true
      }
      row.ratio = row.ours.median / row.baseline.median
      rows.push(row)
      console.error(`  ${figure.metric}: ${row.ratio.toFixed(2)}x`)
    }
  } finally {
    await node.stop()
  }

  const kuboVersion = (await import('@tk/testkit')).pinnedKubo().version
  const environment = bench.environment({ kubo: kuboVersion, runs: RUNS, quick: values.quick })
  const format = value => (value >= 100 ? value.toFixed(0) : value.toFixed(1))
  console.log(
    `\n@tk/rpc vs kubo-rpc-client 7 — Kubo ${kuboVersion}, Node ${process.version}, ${environment.cpus} cores; median of ${RUNS} (min–max)\n`
  )
  console.log('| metric | unit | @tk/rpc | kubo-rpc-client | ratio | peak RSS ours / theirs (MiB) |')
  console.log('|---|---|---|---|---|---|')
  for (const row of rows) {
    console.log(
      `| ${row.metric} | ${row.unit} | ${format(row.ours.median)} (${format(row.ours.min)}–${format(row.ours.max)}) | ${format(row.baseline.median)} (${format(row.baseline.min)}–${format(row.baseline.max)}) | **${row.ratio.toFixed(2)}x** | ${row.ours.peakRssMiB.toFixed(0)} / ${row.baseline.peakRssMiB.toFixed(0)} |`
    )
  }
  await bench.writeResults('rpc', environment, rows)
}

if (values.worker != null) await worker()
else await coordinator()
