#!/usr/bin/env node
// CI across versions (what .ci/run runs). Needs only Node >= 20.19 with npm, and Go or Kubo
// binaries, like `npm test`:
//
//   1. the README's test command, `npm test`, once per Node in CI_NODES (the oldest supported and
//      the newest LTS), each installed into .tools/ from the npm registry when the machine lacks it
//      (TK_NODE tells bootstrap.mjs which), against the pinned Kubo;
//   2. the suites that talk to Kubo most directly (the @tk/rpc + @tk/cli-backend contract suites and
//      @tk/transmission's tests) against the oldest supported Kubo, built once from
//      packages/testkit/kubo-oldest into the user cache and given to the testkit as KUBO_BINARY;
//   3. one summary line over all runs; the exit code is 0 only when every run passed.
//
// Every run goes ahead even when an earlier one failed, so one CI job tells about all of them.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { CI_NODES, ensureNode, ensurePnpm, PINNED_NODE, root } from './tools.mjs'

/** The oldest Kubo tk supports, pinned by its own Go module (the README's "Kubo >= 0.40"). */
const OLDEST_KUBO_MODULE = path.join(root, 'packages', 'testkit', 'kubo-oldest')
/** What runs against the oldest Kubo: vitest file filters. */
const OLDEST_KUBO_SUITES = ['packages/cli-backend/test/contract', 'packages/transmission/test/']

const resultsDir = path.join(root, '.tk', 'ci')
rmSync(resultsDir, { recursive: true, force: true })
mkdirSync(resultsDir, { recursive: true })
const started = Date.now()

function kuboPinnedBy(moduleDir) {
  const goMod = readFileSync(path.join(moduleDir, 'go.mod'), 'utf8')
  return /^\s*github\.com\/ipfs\/kubo v(\d+\.\d+\.\d+)/m.exec(goMod)?.[1] ?? '?'
}

function banner(title) {
  console.log(`\n${'='.repeat(100)}\n== ${title}\n${'='.repeat(100)}`)
}

/** Runs a command with inherited stdio; resolves with its exit code (Ctrl-C goes to the child). */
function run(command, args, env, stdout = 'inherit') {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env,
      stdio: ['inherit', stdout, 'inherit'],
      shell: process.platform === 'win32'
    })
    let output = ''
    child.stdout?.setEncoding('utf8').on('data', chunk => {
      output += chunk
    })
    const ignore = () => {}
    process.on('SIGINT', ignore)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore)
      resolve({ code: code ?? (signal == null ? 1 : 130), output })
    })
  })
}

/** Vitest's JSON report as counts, or undefined when the run ended before the tests. */
function readResults(file) {
  if (!existsSync(file)) return undefined
  const results = JSON.parse(readFileSync(file, 'utf8'))
  const failures = []
  for (const suite of results.testResults ?? []) {
    const where = path.relative(root, suite.name ?? '')
    for (const test of suite.assertionResults ?? []) {
      if (test.status !== 'failed') continue
      const message = String(test.failureMessages?.[0] ?? '')
        .split('\n')
        .slice(0, 3)
        .join(' | ')
      failures.push(`${where} > ${test.fullName}: ${message.slice(0, 400)}`)
    }
    // A file that failed outside any test (an import error, a hook) has no failed assertion.
    if (suite.status === 'failed' && !(suite.assertionResults ?? []).some(test => test.status === 'failed')) {
      failures.push(
        `${where}: ${String(suite.message ?? 'failed outside a test')
          .split('\n')
          .slice(0, 3)
          .join(' | ')
          .slice(0, 400)}`
      )
    }
  }
  return {
    passed: results.numPassedTests,
    failed: results.numFailedTests,
    skipped: results.numPendingTests + results.numTodoTests,
    files: results.numTotalTestSuites,
    failures
  }
}

function minutes(ms) {
  const seconds = Math.round(ms / 1000)
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`
}

const runs = []
const pinnedKubo = kuboPinnedBy(path.join(root, 'packages', 'testkit', 'kubo'))

// 1. npm test on each Node.
const resultsFile = path.join(root, '.tk', 'vitest-results.json')
for (const version of CI_NODES) {
  banner(`npm test on Node ${version}, Kubo ${pinnedKubo}`)
  rmSync(resultsFile, { force: true })
  const runStarted = Date.now()
  const { code } = await run('npm', ['test'], { ...process.env, TK_NODE: version })
  runs.push({
    name: `npm test on Node ${version} + Kubo ${pinnedKubo}`,
    code,
    results: readResults(resultsFile),
    ms: Date.now() - runStarted
  })
}

// 2. The Kubo-facing suites on the oldest Kubo (dependencies and build are there from step 1).
const oldestKubo = kuboPinnedBy(OLDEST_KUBO_MODULE)
banner(`contract + transmission suites on Kubo ${oldestKubo} (the oldest supported), Node ${PINNED_NODE}`)
{
  const runStarted = Date.now()
  const name = `contract + transmission on Kubo ${oldestKubo} + Node ${PINNED_NODE}`
  const node = ensureNode(PINNED_NODE)
  const env = {
    ...process.env,
    PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`,
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1'
  }
  const pnpm = ensurePnpm(env)
  if (pnpm !== 'pnpm') env.PATH = `${path.dirname(pnpm)}${path.delimiter}${env.PATH}`
  const tkKubo = path.join(root, 'packages', 'testkit', 'bin', 'tk-kubo.js')
  const found = await run(node, [tkKubo, '--module', OLDEST_KUBO_MODULE], env, 'pipe')
  const binary = found.output.trim()
  if (found.code !== 0 || binary === '') {
    console.error(`✖ no Kubo ${oldestKubo}: tk-kubo --module exited with code ${found.code}`)
    runs.push({ name, code: found.code || 1, results: undefined, ms: Date.now() - runStarted })
  } else {
    console.log(`Kubo ${oldestKubo}: ${binary}`)
    const file = path.join(resultsDir, `kubo-${oldestKubo}.json`)
    const { code } = await run(
      pnpm,
      [
        'exec',
        'vitest',
        'run',
        ...OLDEST_KUBO_SUITES,
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${file}`
      ],
      { ...env, KUBO_BINARY: binary }
    )
    runs.push({ name, code, results: readResults(file), ms: Date.now() - runStarted })
  }
}

// 3. One summary.
banner('summary')
for (const entry of runs) {
  const counts =
    entry.results == null
      ? 'no test results (it failed before the tests; see above)'
      : `${entry.results.passed} passed, ${entry.results.failed} failed, ${entry.results.skipped} skipped`
  console.log(`${entry.code === 0 ? 'PASS' : 'FAIL'}  ${entry.name}: ${counts} (${minutes(entry.ms)})`)
  // The names of what failed, here at the end where a truncated log still shows them.
  for (const failure of entry.results?.failures ?? []) console.log(`      ✖ ${failure}`)
}
const failedRuns = runs.filter(entry => entry.code !== 0)
const total = runs.reduce(
  (sum, entry) => ({
    passed: sum.passed + (entry.results?.passed ?? 0),
    failed: sum.failed + (entry.results?.failed ?? 0)
  }),
  { passed: 0, failed: 0 }
)
console.log(
  `\nci: ${failedRuns.length === 0 ? 'PASS' : 'FAIL'}, ${runs.length - failedRuns.length} of ${runs.length} runs passed (Node ${CI_NODES.join(' and ')}; Kubo ${pinnedKubo} and ${oldestKubo}); tests: ${total.passed} passed, ${total.failed} failed; ${minutes(Date.now() - started)} in all`
)
process.exit(failedRuns.length === 0 ? 0 : 1)
