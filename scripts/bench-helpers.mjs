// What the package benchmarks (packages/*/bench/*.bench.mjs) share: the test file they stream, the
// way they keep calls in flight, the record of the machine a run was on, and where results go.
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const RESULTS_DIR = fileURLToPath(new URL('../bench/results/', import.meta.url))

/** Chunk size of {@link fileChunks} (bytes): what a file read hands out at a time. */
export const FILE_CHUNK = 1024 * 1024

/**
 * `size` bytes as 1 MiB chunks copied from `block` (1 MiB), each stamped with a counter every
 * 64 KiB so that no chunk (nor any 256 KiB block of it) is the same as another and nothing dedups.
 */
export function* fileChunks(size, block) {
  for (let index = 0; index < size / FILE_CHUNK; index++) {
    const chunk = Buffer.from(block)
    for (let offset = 0; offset < FILE_CHUNK; offset += 65536)
      chunk.writeUInt32BE(index * 16 + offset / 65536, offset)
    yield chunk
  }
}

/** Runs `task` `count` times, `concurrency` at a time. */
export async function inParallel(count, concurrency, task) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++
        await task()
      }
    })
  )
}

/** The machine and settings of a run, stored beside its figures. */
export function environment(init) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    kubo: init.kubo,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    ...init.extra,
    runs: init.runs,
    quick: init.quick
  }
}

/** Writes `{ environment, rows }` to bench/results/<name>-<date>[-quick].json and says where. */
export async function writeResults(name, environment, rows) {
  await fs.mkdir(RESULTS_DIR, { recursive: true })
  const file = path.join(
    RESULTS_DIR,
    `${name}-${environment.date.slice(0, 10)}${environment.quick ? '-quick' : ''}.json`
  )
  await fs.writeFile(file, `${JSON.stringify({ environment, rows }, null, 2)}\n`)
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`)
}

/**
 * Runs `script` with `args` in a Node process of its own (a bench's worker: its figures are not
 * disturbed by the coordinator) and resolves with the JSON it prints on stdout; `label` names it
 * in the error when it fails.
 */
export function runWorker(script, args, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', chunk => {
      output += chunk
    })
    child.once('exit', code =>
      code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`${label} failed (${code})`))
    )
  })
}

/** The middle value of `list` (the upper one of the two middles for an even length). */
export const median = list => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]

/** Median, min and max of `list`: what the results tables print. */
export const spread = list => ({ median: median(list), min: Math.min(...list), max: Math.max(...list) })
