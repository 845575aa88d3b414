#!/usr/bin/env node
// What the CLI fallback costs: the @tk/rpc client on cliTransport against the same client over
// HTTP, side by side on one fresh testkit daemon, in one run.
//
//   pnpm --filter @tk/cli-backend bench            5 measured runs per figure after a warm-up
//   pnpm --filter @tk/cli-backend bench -- --quick 3 runs, smaller sizes
//
// Figures: calls/s of `id` (16 in flight), MB/s of `add` and `cat` of a 256 MiB file. Prints a
// table with the ratios (CLI / HTTP) and writes bench/results/cli-<date>.json at the repository root.
import { parseArgs } from 'node:util'
import { createKuboClient } from '@tk/rpc'
import { createKuboNode, pinnedKubo } from '@tk/testkit'
import * as bench from '../../../scripts/bench-helpers.mjs'
import { cliTransport } from '../dist/index.js'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } })
const RUNS = values.quick ? 3 : 5
const FILE_SIZE = (values.quick ? 64 : 256) * 1024 * 1024
const CONCURRENCY = 16

/** The test file: 1 MiB chunks filled with `seed`, each unique. */
const fileSource = seed => bench.fileChunks(FILE_SIZE, Buffer.alloc(bench.FILE_CHUNK, seed))

async function measure(run) {
  await run() // warm-up
  const rates = []
  for (let index = 0; index < RUNS; index++) {
    const started = process.hrtime.bigint()
    const amount = await run(index)
    rates.push(amount / (Number(process.hrtime.bigint() - started) / 1e9))
  }
  const sorted = [...rates].sort((a, b) => a - b)
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted.at(-1) }
}

const node = await createKuboNode()
const http = createKuboClient(node.apiUrl)
const cli = createKuboClient({ transport: cliTransport({ api: node.apiMultiaddr, binary: node.binary }) })
const rows = []
try {
  const { cid } = await http.add(fileSource(1), { cidVersion: 1, rawLeaves: true })
  const workloads = [
    {
      metric: 'id calls/s',
      unit: 'calls/s',
      scale: 1,
      run: client => async () => {
        const calls = client === cli ? 200 : 2000
        await bench.inParallel(calls, CONCURRENCY, () => client.id())
        return calls
      }
    },
    {
      metric: `add ${FILE_SIZE / 2 ** 20} MiB`,
      unit: 'MB/s',
      scale: 1e-6,
      run: client => async index => {
        await client.add(fileSource(index ?? 99), { pin: false })
        return FILE_SIZE
      }
    },
    {
      metric: `cat ${FILE_SIZE / 2 ** 20} MiB`,
      unit: 'MB/s',
      scale: 1e-6,
      run: client => async () => {
        let bytes = 0
        for await (const chunk of client.cat(cid)) bytes += chunk.byteLength
        if (bytes !== FILE_SIZE) throw new Error(`cat returned ${bytes} bytes`)
        return bytes
      }
    }
  ]
  for (const workload of workloads) {
    const scale = summary => ({
      median: summary.median * workload.scale,
      min: summary.min * workload.scale,
      max: summary.max * workload.scale
    })
    const ours = scale(await measure(workload.run(cli)))
    const baseline = scale(await measure(workload.run(http)))
    rows.push({
      area: 'cli transport',
      metric: workload.metric,
      unit: workload.unit,
      ours,
      baseline,
      baselineName: '@tk/rpc over HTTP',
      ratio: ours.median / baseline.median,
      higherIsBetter: true
    })
    console.error(`  ${workload.metric}: ${(ours.median / baseline.median).toFixed(2)}x`)
  }
} finally {
  await cli.close()
  await http.close()
  await node.stop()
}

const environment = bench.environment({ kubo: pinnedKubo().version, runs: RUNS, quick: values.quick })
const format = value => (value >= 100 ? value.toFixed(0) : value.toFixed(1))
console.log(
  `\nCLI transport vs HTTP — Kubo ${environment.kubo}, Node ${process.version}, ${environment.cpus} cores; median of ${RUNS} (min–max)\n`
)
console.log('| metric | unit | CLI transport | HTTP | ratio |')
console.log('|---|---|---|---|---|')
for (const row of rows) {
  console.log(
    `| ${row.metric} | ${row.unit} | ${format(row.ours.median)} (${format(row.ours.min)}–${format(row.ours.max)}) | ${format(row.baseline.median)} (${format(row.baseline.min)}–${format(row.baseline.max)}) | **${row.ratio.toFixed(2)}x** |`
  )
}
await bench.writeResults('cli', environment, rows)
