#!/usr/bin/env node
// Every package benchmark in one run, each on fresh testkit nodes and side by side with its
// baseline, then one results table per area:
//
//   pnpm bench            full sizes (1 GiB add/cat and file transfer), 5+ runs per figure
//   pnpm bench --quick    smaller sizes and fewer runs, for everyday checks (< 3 minutes)
//
// Each package script writes bench/results/<area>-<date>[-quick].json; this script runs them in
// turn, gathers their rows into bench/results/<date>[-quick].json plus latest[-quick].json and
// latest[-quick].md (machine, Node and Kubo versions at the top). A row reads
// { area, metric, unit, ours, baseline, baselineName, ratio, higherIsBetter } plus min/max and
// peak RSS where measured; `ratio` is ours / baseline within the same run.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string', multiple: true } },
  allowPositionals: true
})
const quick = values.quick
const suffix = quick ? '-quick' : ''

/** The package benchmarks, in the order they run; `file` is the JSON each one writes. */
const benches = [
  {
    area: 'rpc',
    title: '@tk/rpc vs kubo-rpc-client 7 (calls, add/cat)',
    script: 'packages/rpc/bench/rpc.bench.mjs',
    // The full run moves 1 GiB through add/cat, so peak RSS at that size is measured too.
    args: quick ? ['--quick'] : ['--file-mib', '1024'],
    file: 'rpc'
  },
  {
    area: 'cli',
    title: 'the ipfs CLI (through @tk/cli-backend) vs @tk/rpc over HTTP',
    script: 'packages/cli-backend/bench/cli.bench.mjs',
    args: quick ? ['--quick'] : [],
    file: 'cli'
  },
  {
    area: 'transmission',
    title: '@tk/transmission vs the raw Kubo tunnel',
    script: 'packages/transmission/bench/transmission.bench.mjs',
    args: quick ? ['--quick'] : [],
    file: 'transmission'
  },
  {
    area: 'python',
    title: '@tk/transmission vs the Python IPFS-Toolkit',
    script: 'packages/transmission/bench/python.bench.mjs',
    args: quick ? ['--quick'] : [],
    file: 'python'
  },
  {
    area: 'embedded',
    title: '@tk/embedded (an in-process node) vs a Kubo daemon (start, RSS, add/cat)',
    script: 'packages/embedded/bench/embedded.bench.mjs',
    args: quick ? ['--quick'] : [],
    file: 'embedded'
  },
  {
    area: 'lns',
    title: '@tk/lns: remembered address vs routing findpeer',
    script: 'packages/lns/bench/connect.bench.mjs',
    args: quick ? ['--quick'] : [],
    file: 'lns'
  }
].filter(bench => values.only == null || values.only.includes(bench.area))

function run(script, args) {
  return new Promise(resolve => {
    const child = spawn(process.execPath, [path.join(root, script), ...args], { cwd: root, stdio: 'inherit' })
    child.once('exit', code => resolve(code ?? 1))
  })
}

/** A package row in the shared shape: medians as numbers, spreads beside them. */
function flatten(row) {
  const median = value => (typeof value === 'number' ? value : value?.median)
  const spread = (value, name) =>
    typeof value === 'object' && value != null ? { [`${name}Min`]: value.min, [`${name}Max`]: value.max } : {}
  const ours = median(row.ours)
  const baseline = median(row.baseline)
  const flat = {
    area: row.area,
    metric: row.metric,
    unit: row.unit,
    ours,
    baseline,
    baselineName: row.baselineName,
    ratio: row.ratio ?? ours / baseline,
    higherIsBetter: row.higherIsBetter,
    ...spread(row.ours, 'ours'),
    ...spread(row.baseline, 'baseline')
  }
  if (typeof row.ours !== 'object') {
    if (row.min != null) flat.oursMin = row.min
    if (row.max != null) flat.oursMax = row.max
    if (row.baselineMin != null) flat.baselineMin = row.baselineMin
    if (row.baselineMax != null) flat.baselineMax = row.baselineMax
  }
  const rss = row.ours?.peakRssMiB ?? row.peakRssMiB
  if (rss != null) flat.oursPeakRssMiB = rss
  const baselineRss = row.baseline?.peakRssMiB ?? row.baselinePeakRssMiB
  if (baselineRss != null) flat.baselinePeakRssMiB = baselineRss
  if (row.target != null) flat.target = row.target
  if (row.baselineMetric != null) flat.baselineMetric = row.baselineMetric
  return flat
}

const format = value =>
  value == null || Number.isNaN(value)
    ? '—'
    : value >= 100
      ? value.toFixed(0)
      : value >= 10
        ? value.toFixed(1)
        : value >= 0.1
          ? value.toFixed(2)
          : value.toPrecision(2)

const rssText = value =>
  value == null
    ? ''
    : typeof value === 'number'
      ? `${value.toFixed(0)}`
      : Object.entries(value)
          .map(([side, mib]) => `${side} ${mib.toFixed(0)}`)
          .join(', ')

function verdict(row) {
  if (!Number.isFinite(row.ratio)) return ''
  // Within 3 % either way is a tie: runs on this kind of machine vary more than that.
  if (Math.abs(row.ratio - 1) <= 0.03 && row.target == null) return 'even'
  const better = row.higherIsBetter ? row.ratio >= 1 : row.ratio <= 1
  if (row.target != null) {
    const met = row.higherIsBetter ? row.ratio >= row.target : row.ratio <= row.target
    return met ? `target ${row.target}x met` : `**behind the ${row.target}x target**`
  }
  return better ? 'ahead' : '**behind**'
}

function table(rows) {
  const lines = [
    '| metric | unit | ours (min–max) | baseline (min–max) | ratio | | peak RSS ours / baseline (MiB) |',
    '|---|---|---|---|---|---|---|'
  ]
  for (const row of rows) {
    const range = (median, min, max) =>
      `${format(median)}${min != null ? ` (${format(min)}–${format(max)})` : ''}`
    lines.push(
      `| ${row.metric} | ${row.unit} | ${range(row.ours, row.oursMin, row.oursMax)} | ${range(row.baseline, row.baselineMin, row.baselineMax)} | ${format(row.ratio)}x | ${verdict(row)} | ${rssText(row.oursPeakRssMiB)}${row.baselinePeakRssMiB != null ? ` / ${rssText(row.baselinePeakRssMiB)}` : ''} |`
    )
  }
  return lines.join('\n')
}

/**
 * The results file a bench wrote in this run: `<name>-<its date>[-quick].json`, newest first. Each
 * bench names the file by its own clock, so a run across midnight still finds it.
 */
async function writtenSince(name, since) {
  const pattern = new RegExp(`^${name}-\\d{4}-\\d{2}-\\d{2}${suffix}\\.json$`)
  const candidates = []
  for (const entry of await fs.readdir(results)) {
    if (!pattern.test(entry)) continue
    const file = path.join(results, entry)
    const { mtimeMs } = await fs.stat(file)
    if (mtimeMs >= since) candidates.push({ file, mtimeMs })
  }
  return candidates.sort((a, b) => b.mtimeMs - a.mtimeMs)[0]?.file
}

const started = Date.now()
const date = new Date().toISOString().slice(0, 10)
const results = path.join(root, 'bench', 'results')
await fs.mkdir(results, { recursive: true })
const sections = []
const rows = []
const failures = []
let environment

for (const bench of benches) {
  console.log(`\n▶ ${bench.title}`)
  if (!existsSync(path.join(root, bench.script))) {
    failures.push(`${bench.area}: ${bench.script} is missing`)
    continue
  }
  const benchStarted = Date.now()
  const code = await run(bench.script, bench.args)
  const file = await writtenSince(bench.file, benchStarted)
  if (code !== 0 || file == null) {
    failures.push(`${bench.area}: exited with code ${code}`)
    continue
  }
  const written = JSON.parse(await fs.readFile(file, 'utf8'))
  environment ??= written.environment
  const flat = written.rows.map(flatten)
  rows.push(...flat)
  sections.push({ title: bench.title, rows: flat, environment: written.environment })
}

const kubo = environment?.kubo ?? 'unknown'
const machine = {
  date: new Date().toISOString(),
  quick,
  node: process.version,
  kubo,
  cpuModel: os.cpus()[0]?.model,
  cpus: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.platform()} ${os.release()}`,
  minutes: Math.round((Date.now() - started) / 6000) / 10
}
const markdown = [
  `# Benchmarks${quick ? ' (quick run)' : ''}`,
  '',
  `${machine.date.slice(0, 10)} · ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGiB} GiB · ${machine.platform} · Node ${machine.node} · Kubo ${kubo} · ${machine.minutes} min`,
  '',
  'Each figure is the median of several runs after a warm-up (min–max beside it); each ratio is ours / baseline measured in the same run on the same fresh testkit nodes. "behind" marks where the baseline wins ("even": within 3 %). Run `pnpm bench` (or `pnpm bench --quick`) to reproduce. Why we are behind where we are: packages/transmission/BENCHMARKS.md, packages/cli-backend/README.md, packages/lns/README.md, packages/embedded/README.md.',
  ...sections.flatMap(section => ['', `## ${section.title}`, '', table(section.rows)]),
  ...(failures.length > 0
    ? ['', '## Not measured in this run', '', ...failures.map(failure => `- ${failure}`)]
    : []),
  ''
].join('\n')
const json = `${JSON.stringify({ environment: machine, rows, failures }, null, 2)}\n`
await fs.writeFile(path.join(results, `${date}${suffix}.json`), json)
await fs.writeFile(path.join(results, `latest${suffix}.json`), json)
await fs.writeFile(path.join(results, `latest${suffix}.md`), markdown)
console.log(`\n${markdown}`)
console.log(`written: bench/results/${date}${suffix}.json, latest${suffix}.json, latest${suffix}.md`)
process.exit(failures.length > 0 ? 1 : 0)
