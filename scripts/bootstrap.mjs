#!/usr/bin/env node
// Makes a fresh clone ready, then runs what was asked. Needs only Node >= 20.19 with npm (and Go,
// or a Kubo binary, for the Kubo nodes of the tests, the benchmarks and `demo --kubo`/`--mixed`):
//
//   npm test        → node scripts/bootstrap.mjs test   lint, typecheck and the whole test suite
//   npm run demo    → node scripts/bootstrap.mjs demo   the demo on two embedded nodes (no Kubo, no Go)
//   npm run demo -- --kubo | --mixed                    … on two Kubo nodes | one Kubo, one embedded
//   npm run kubo    → node scripts/bootstrap.mjs kubo   print the Kubo binary (build it the first time)
//   npm run bench   → node scripts/bootstrap.mjs bench  every benchmark beside its baseline (--quick: < 3 min)
//
// Set-up, each step skipped when already done: a supported Node (when the running one is older
// than tk's minimum, or TK_NODE names another version, that Node is installed from the npm
// registry into .tools/node/ and everything re-runs under it), pnpm (the version in package.json's
// `packageManager`, installed into .tools/ when the machine has no pnpm of that major; never
// globally), `pnpm install`, `turbo run build`, and Kubo (found, or built once with Go into the
// user cache; not for the demo on embedded nodes or on the user's own daemon).
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { compareVersions, ensureNode, ensurePnpm, MIN_NODE, PINNED_NODE, root } from './tools.mjs'

const action = process.argv[2] ?? 'test'
const actions = ['test', 'demo', 'kubo', 'bench']
if (!actions.includes(action)) {
  console.error(`Unknown action "${action}". Use one of: ${actions.join(', ')}`)
  process.exit(2)
}

// Installing a Node from npm needs a working npm, which needs Node >= 20.17; 20.19 as before.
if (compareVersions(process.versions.node, '20.19.0') < 0) {
  console.error(
    `tk's scripts need Node >= 20.19 with npm (they install Node ${PINNED_NODE} themselves when yours is older than ${MIN_NODE}); this is Node ${process.versions.node}. Install a newer Node from https://nodejs.org`
  )
  process.exit(1)
}

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' }

function step(title) {
  console.log(`\n▶ ${title}`)
}

/** Runs a command with inherited stdio; resolves with its exit code. Ctrl-C goes to the child. */
function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit', ...options })
    const ignore = () => {}
    // The child gets the terminal's Ctrl-C too and cleans up after itself; we wait for it.
    process.on('SIGINT', ignore)
    process.on('SIGTERM', ignore)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore)
      process.off('SIGTERM', ignore)
      resolve(code ?? (signal == null ? 1 : 128 + 2))
    })
  })
}

async function must(command, args, options) {
  const code = await run(command, args, options)
  if (code !== 0) {
    console.error(`\n✖ \`${[command, ...args].join(' ')}\` failed with exit code ${code}`)
    process.exit(code)
  }
}

// TK_NODE=<version> (what .ci/run sets) asks for exactly that Node; otherwise any Node >= MIN_NODE.
const wantedNode = process.env.TK_NODE
const running = process.versions.node
if (wantedNode == null ? compareVersions(running, MIN_NODE) < 0 : running !== wantedNode) {
  const version = wantedNode ?? PINNED_NODE
  const binary = ensureNode(version, line => step(line))
  console.log(
    wantedNode == null
      ? `▶ Node ${running} is older than tk's minimum ${MIN_NODE}: running under Node ${version} from .tools/ instead`
      : `▶ TK_NODE=${version}: running under Node ${version} from .tools/ instead of Node ${running}`
  )
  // Children (pnpm, turbo, vitest, package scripts) find this Node first on PATH too.
  env.PATH = `${path.dirname(binary)}${path.delimiter}${env.PATH ?? ''}`
  process.exit(await run(binary, [path.join(root, 'scripts', 'bootstrap.mjs'), ...process.argv.slice(2)]))
}

// Started directly with a Node from .tools/: children must not fall back to an older one on PATH.
if (process.execPath.startsWith(path.join(root, '.tools') + path.sep)) {
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`
}

const pnpm = ensurePnpm(env, line => step(line))
// turbo runs package scripts through pnpm, so children must find it on PATH.
if (pnpm !== 'pnpm') env.PATH = `${path.dirname(pnpm)}${path.delimiter}${env.PATH ?? ''}`

step('Installing dependencies (pnpm install)')
await must(pnpm, ['install', '--frozen-lockfile', '--prefer-offline'])

step('Building packages (turbo run build)')
await must(pnpm, ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'])

// The demo needs Kubo only for the tours that start Kubo nodes; its default runs on embedded nodes.
const demoArgs = action === 'demo' ? process.argv.slice(3) : []
const needsKubo = action !== 'demo' || demoArgs.some(arg => arg === '--kubo' || arg === '--mixed')
if (needsKubo) {
  step('Finding Kubo (built from its Go module the first time; a few minutes)')
  await must(process.execPath, [path.join(root, 'packages', 'testkit', 'bin', 'tk-kubo.js')])
}

if (action === 'kubo') process.exit(0)

if (action === 'bench') {
  step('Python IPFS-Toolkit 0.5.33 (a baseline), in a virtual environment under .tools/')
  await must(process.execPath, [path.join(root, 'scripts', 'python-toolkit.mjs')])
  step('Benchmarks')
  process.exit(
    await run(process.execPath, [path.join(root, 'scripts', 'bench.mjs'), ...process.argv.slice(3)])
  )
}

if (action === 'demo') {
  step('Demo')
  process.exit(
    await run(process.execPath, [
      path.join(root, 'apps', 'demo', 'dist', 'main.js'),
      ...process.argv.slice(3)
    ])
  )
}

step('Python IPFS-Toolkit 0.5.33 for the interop tests (skipped without python3 >= 3.11)')
await must(process.execPath, [path.join(root, 'scripts', 'python-toolkit.mjs')])

step('Lint (biome)')
await must(pnpm, ['exec', 'biome', 'check', '.'])

step('README API sections name every export (scripts/check-readme-api.mjs)')
await must(process.execPath, [path.join(root, 'scripts', 'check-readme-api.mjs')])

step('Typecheck (turbo run typecheck)')
await must(pnpm, ['exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only'])

step('Tests (vitest, every package, against real Kubo daemons)')
const resultsFile = path.join(root, '.tk', 'vitest-results.json')
const code = await run(pnpm, [
  'exec',
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${resultsFile}`
])
if (existsSync(resultsFile)) {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'))
  const skipped = results.numPendingTests + results.numTodoTests
  // A plain closing line that any CI log reader understands.
  console.log(
    `\ntests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`
  )
}
process.exit(code)
