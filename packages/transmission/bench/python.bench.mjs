#!/usr/bin/env node
// @tk/transmission against the Python IPFS-Toolkit 0.5.33 (PyPI `IPFS-Toolkit`, installed into
// <repo>/.tools/py-venv by scripts/python-toolkit.mjs), on the same two fresh testkit daemons, in
// one run. Each side sends with its own API from node A to its own listener on node B:
//
//   (a) 1 KiB messages, one after the other: messages/s and latency p50/p99
//       (transmitData → listenForTransmissions vs transmit_data → listen_for_transmissions);
//   (b) a 64 MiB file (16 MiB with --quick): MB/s, the received file's SHA-256 checked on both
//       sides (transmitFile → listenForFileTransmissions vs transmit_file →
//       listen_for_file_transmissions);
//   (c) the peak RSS of each sender and receiver.
//
//   node packages/transmission/bench/python.bench.mjs           500 messages a run, 64 MiB, 5 runs (~1 min)
//   node packages/transmission/bench/python.bench.mjs --quick   100 messages, 16 MiB, 3 runs (~10 s)
//   … --only data                                               one workload: data, file
//
// `pnpm bench` runs it too. It needs the venv (`node scripts/python-toolkit.mjs`) and dist/ built.
//
// Every workload starts four processes of its own: a receiver on node B and a sender on node A for
// each side (bench/python/*.py for Python, this script with --role for ours), so each peak RSS is
// one side's, for that workload alone. The runs alternate between the sides (Python first in even
// runs, ours first in odd ones) so that a noisy neighbour hurts both alike. Prints a table and
// writes bench/results/python-<date>[-quick].json at the repository root.
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '../../..')
const venvPython = path.join(repoRoot, '.tools', 'py-venv', 'bin', 'python')
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    role: { type: 'string' },
    workload: { type: 'string' },
    api: { type: 'string' },
    peer: { type: 'string' },
    listener: { type: 'string' },
    directory: { type: 'string' }
  }
})

const TOOLKIT = 'Python IPFS-Toolkit 0.5.33'
/** Measured runs per figure, after one warm-up run per side. */
const RUNS = values.quick ? 3 : 5
/** Messages per run, the same for both sides so that their p99 rest on as many samples. */
const MESSAGES = values.quick ? 100 : 500
const WARM_UP_MESSAGES = 10
const SMALL = 1024
const FILE_SIZE = values.quick ? 16 * 2 ** 20 : 64 * 2 ** 20
const BLOCK = 2 ** 20
/** How long one command (a run of messages, one file) may take before the benchmark gives up (ms). */
const COMMAND_TIMEOUT = 300_000
/** Last resort for the Python scripts, which otherwise end when their stdin closes (s). */
const PYTHON_DEADLINE = values.quick ? 300 : 1_800

// ---- shared ----------------------------------------------------------------------------------

const median = list => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]

function percentile(samples, fraction) {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]
}

const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')

async function sha256File(file) {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: BLOCK })) hash.update(chunk)
  return hash.digest('hex')
}

/** One digest for a set of messages, whatever order they arrive in (as bench/python/common.py). */
const digestOfSet = digests => sha256([...digests].sort().join(''))

/** Events go to stdout as `@@ <json>` lines, as the Python scripts print theirs. */
const emit = (event, fields = {}) => process.stdout.write(`@@ ${JSON.stringify({ event, ...fields })}\n`)

/** The coordinator's commands, one JSON object a line on stdin, until it closes. */
async function* commands() {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim() !== '') yield JSON.parse(line)
  }
}

const peakRss = () => process.resourceUsage().maxRSS * 1024

async function connectIpfs(api) {
  const { createIpfs } = await import('@tk/api')
  return createIpfs({ backend: 'http', api })
}

// ---- our receiver on node B ------------------------------------------------------------------

async function receiver() {
  const ipfs = await connectIpfs(values.api)
  const transmission = await import('../dist/index.js')
  // Python senders too: their format is a plug-in the listener is given.
  const { ipfsToolkitPy } = await import('../dist/python/index.js')
  const python = ipfsToolkitPy({ client: ipfs.client })
  const digests = []
  const listener =
    values.workload === 'data'
      ? await transmission.listenForTransmissions(values.listener, data => void digests.push(sha256(data)), {
          ipfs,
          wire: python
        })
      : await transmission.listenForFileTransmissions(
          values.listener,
          async file => {
            // transmitFile has already returned (`done` goes out before the handler runs), so the
            // check is not timed.
            emit('file', { name: file.name, size: file.size, sha256: await sha256File(file.path) })
            await fs.rm(file.path, { force: true })
          },
          { ipfs, directory: values.directory, wire: python }
        )
  emit('ready')
  for await (const command of commands()) {
    if (command.op === 'count') {
      // The handler runs after `done` went out, so the last message may still be on its way in.
      const deadline = Date.now() + 30_000
      while (digests.length < command.expected && Date.now() < deadline) {
        await new Promise(resolve => setTimeout(resolve, 5))
      }
      emit('count', { count: digests.length, digest: digestOfSet(digests) })
      digests.length = 0
    } else if (command.op === 'exit') break
  }
  await listener.close()
  await python.close()
  await ipfs.close()
  emit('exit', { peakRss: peakRss() })
}

// ---- our sender on node A --------------------------------------------------------------------

async function sender() {
  const ipfs = await connectIpfs(values.api)
  const transmission = await import('../dist/index.js')
  emit('ready')
  for await (const command of commands()) {
    try {
      if (command.op === 'data') {
        const messages = Array.from({ length: command.count }, () => randomBytes(command.size))
        const latencies = []
        const started = process.hrtime.bigint()
        for (const message of messages) {
          const began = process.hrtime.bigint()
          await transmission.transmitData(message, values.peer, values.listener, { ipfs })
          latencies.push(Number(process.hrtime.bigint() - began) / 1e6)
        }
        emit('data', {
          latencies,
          seconds: Number(process.hrtime.bigint() - started) / 1e9,
          digest: digestOfSet(messages.map(sha256))
        })
      } else if (command.op === 'file') {
        const started = process.hrtime.bigint()
        // Resolves once the receiver has checked the SHA-256 and fsynced the file.
        await transmission.transmitFile(command.path, values.peer, values.listener, { ipfs })
        emit('file-sent', { seconds: Number(process.hrtime.bigint() - started) / 1e9 })
      } else if (command.op === 'exit') break
    } catch (error) {
      emit('error', { message: `${error.name}: ${error.message}` })
    }
  }
  await ipfs.close()
  emit('exit', { peakRss: peakRss() })
}

// ---- coordinator -------------------------------------------------------------------------------

/** A child process that takes JSON commands on stdin and prints `@@ {json}` events. */
class Child {
  #events = []
  #waiters = []
  #output = ''
  #exited = false

  constructor(label, command, args, options = {}) {
    this.label = label
    this.process = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] })
    this.exited = new Promise(resolve => this.process.once('exit', resolve))
    this.process.once('exit', () => {
      this.#exited = true
      this.#wake()
    })
    // A child that died takes its stdin with it; what it said is in the error `next` throws.
    this.process.stdin.on('error', () => {})
    let pending = ''
    this.process.stdout.on('data', chunk => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith('@@ ')) this.#events.push(JSON.parse(line.slice(3)))
        else this.#keep(`${line}\n`)
      }
      this.#wake()
    })
    this.process.stderr.on('data', chunk => this.#keep(chunk.toString('utf8')))
  }

  send(command) {
    this.process.stdin.write(`${JSON.stringify(command)}\n`)
  }

  /** The next event named `name` (earlier ones of other names stay); fails on `error` or exit. */
  async next(name, ms = COMMAND_TIMEOUT) {
    const deadline = Date.now() + ms
    for (;;) {
      const index = this.#events.findIndex(event => event.event === name || event.event === 'error')
      if (index >= 0) {
        const [event] = this.#events.splice(index, 1)
        if (event.event === 'error') throw new Error(`${this.label}: ${event.message}\n${this.#output}`)
        return event
      }
      if (this.#exited) throw new Error(`${this.label} exited before "${name}":\n${this.#output}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no "${name}" from ${this.label} within ${ms} ms:\n${this.#output}`)
      await new Promise(resolve => {
        const timer = setTimeout(resolve, Math.min(left, 1_000))
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Asks the child to end and returns its peak RSS (bytes); kills it if it does not end. */
  async stop() {
    this.send({ op: 'exit' })
    const { peakRss } = await this.next('exit', 30_000)
    this.process.stdin.end()
    await this.exited
    return peakRss
  }

  kill() {
    if (!this.#exited) this.process.kill('SIGKILL')
  }

  #keep(text) {
    // The toolkit's own prints and tracebacks, for failure messages only (bounded).
    this.#output = (this.#output + text).slice(-8_000)
  }

  #wake() {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

/** Starts the processes of one workload; `kill()`s whatever is left of them in the end. */
function startProcesses(nodes, tmp) {
  const [, b] = nodes
  const started = []
  const python = (label, node, script, ...args) => {
    const child = new Child(label, venvPython, [path.join(here, 'python', script), ...args], {
      cwd: tmp,
      env: {
        ...process.env,
        PY_IPFS_HTTP_CLIENT_DEFAULT_ADDR: `${node.apiMultiaddr}/http`,
        // ipfs_lns creates its contact folders under the user data dir at import time.
        XDG_DATA_HOME: path.join(tmp, 'xdg'),
        PYTHONUNBUFFERED: '1',
        PYTHONDONTWRITEBYTECODE: '1'
      }
    })
    started.push(child)
    return child
  }
  const ours = (label, node, ...args) => {
    const child = new Child(label, process.execPath, [
      fileURLToPath(import.meta.url),
      '--api',
      node.apiUrl,
      '--peer',
      b.peerId,
      ...args
    ])
    started.push(child)
    return child
  }
  return {
    python,
    ours,
    kill: () => {
      for (const child of started) child.kill()
    }
  }
}

const sides = run => (run % 2 === 0 ? ['python', 'ours'] : ['ours', 'python'])
const unique = () => randomBytes(4).toString('hex')

/** Receivers on B, senders on A, both sides; runs `measure(side, run)` alternately; peak RSS. */
async function workload(nodes, tmp, kind, extra, measure) {
  const [a, b] = nodes
  const processes = startProcesses(nodes, tmp)
  try {
    const pythonName = `bench-py-${kind}-${unique()}`
    const ourName = `bench-tk-${kind}-${unique()}`
    const receivers = {
      python: processes.python(
        'Python receiver',
        b,
        'receive.py',
        kind,
        pythonName,
        String(PYTHON_DEADLINE),
        ...(extra.python ?? [])
      ),
      ours: processes.ours(
        'our receiver',
        b,
        '--role',
        'receiver',
        '--workload',
        kind,
        '--listener',
        ourName,
        ...(extra.ours ?? [])
      )
    }
    await Promise.all([receivers.python.next('ready', 60_000), receivers.ours.next('ready', 60_000)])
    const senders = {
      python: processes.python('Python sender', a, 'send.py', b.peerId, pythonName, String(PYTHON_DEADLINE)),
      ours: processes.ours('our sender', a, '--role', 'sender', '--workload', kind, '--listener', ourName)
    }
    await Promise.all([senders.python.next('ready', 60_000), senders.ours.next('ready', 60_000)])
    const results = { python: [], ours: [] }
    // Run -1 is the warm-up: tunnels opened, code paths compiled, page cache filled.
    for (let run = -1; run < RUNS; run++) {
      for (const side of sides(run)) {
        const value = await measure({ side, run, sender: senders[side], receiver: receivers[side] })
        if (run >= 0) results[side].push(value)
      }
    }
    const rss = {}
    for (const side of ['python', 'ours']) {
      rss[side] = {
        sender: (await senders[side].stop()) / 2 ** 20,
        receiver: (await receivers[side].stop()) / 2 ** 20
      }
    }
    return { results, rss }
  } finally {
    processes.kill()
  }
}

async function dataWorkload(nodes, tmp) {
  return workload(nodes, tmp, 'data', {}, async ({ side, run, sender, receiver }) => {
    const count = run < 0 ? WARM_UP_MESSAGES : MESSAGES
    sender.send({ op: 'data', count, size: SMALL })
    const sent = await sender.next('data')
    receiver.send({ op: 'count', expected: count })
    const got = await receiver.next('count')
    if (got.count !== count || got.digest !== sent.digest) {
      throw new Error(
        `${side}: the receiver got ${got.count} of ${count} messages${got.count === count ? ', not the ones sent' : ''}`
      )
    }
    return {
      rate: count / sent.seconds,
      p50: percentile(sent.latencies, 0.5),
      p99: percentile(sent.latencies, 0.99)
    }
  })
}

/** A file of `size` bytes that does not repeat block to block (as transmission.bench.mjs makes it). */
async function makeFile(file, size) {
  const block = randomBytes(BLOCK)
  await pipeline(
    (function* () {
      for (let index = 0; index < size / BLOCK; index++) {
        const chunk = Buffer.from(block)
        for (let offset = 0; offset < BLOCK; offset += 65536)
          chunk.writeUInt32BE(index * 16 + offset / 65536, offset)
        yield chunk
      }
    })(),
    createWriteStream(file)
  )
}

async function fileWorkload(nodes, tmp) {
  const source = path.join(tmp, 'source.bin')
  await makeFile(source, FILE_SIZE)
  const expected = await sha256File(source)
  const outbox = await fs.mkdtemp(path.join(tmp, 'outbox-'))
  const inbox = {
    python: await fs.mkdtemp(path.join(tmp, 'inbox-python-')),
    ours: await fs.mkdtemp(path.join(tmp, 'inbox-ours-'))
  }
  const extra = { python: [inbox.python], ours: ['--directory', inbox.ours] }
  return workload(nodes, tmp, 'file', extra, async ({ side, run, sender, receiver }) => {
    // A name of its own for each transfer (ipfs_tk names each file's conversation after it), a
    // hard link to the same bytes.
    const name = `bench-${side}-${run + 1}.bin`
    const file = path.join(outbox, name)
    await fs.link(source, file)
    try {
      sender.send({ op: 'file', path: file })
      const [sent, got] = await Promise.all([sender.next('file-sent'), receiver.next('file')])
      if (got.name !== name || got.size !== FILE_SIZE || got.sha256 !== expected) {
        throw new Error(
          `${side}: received ${got.name}, ${got.size} bytes, SHA-256 ${got.sha256}; sent ${name}, ${FILE_SIZE} bytes, ${expected}`
        )
      }
      // Python: from the call to transmit_file until the receiver's handler has the file (its
      // sender returns before the last block is written; both read CLOCK_MONOTONIC, so the
      // stamps of the two processes compare). Ours: the sender's own transmitFile call, which
      // resolves once the receiver has checked the SHA-256 and fsynced the file.
      const seconds =
        side === 'python' ? Number(BigInt(got.arrived) - BigInt(sent.started)) / 1e9 : sent.seconds
      return { throughput: FILE_SIZE / seconds / 1e6 }
    } finally {
      await fs.rm(file, { force: true })
    }
  })
}

const label = size => `${size / 2 ** 20} MiB`

async function coordinator() {
  if (!existsSync(venvPython)) {
    console.error(
      `python.bench: no Python IPFS-Toolkit venv at ${venvPython}; create it with \`node scripts/python-toolkit.mjs\` (needs python3 >= 3.11)`
    )
    process.exit(1)
  }
  const probe = spawnSync(
    venvPython,
    ['-c', 'import sys, importlib.metadata as m; print(sys.version.split()[0], m.version("IPFS-Toolkit"))'],
    { encoding: 'utf8' }
  )
  const [pythonVersion, toolkitVersion] = probe.stdout?.trim().split(' ') ?? []
  if (probe.status !== 0 || toolkitVersion !== '0.5.33') {
    console.error(
      `python.bench: the venv at ${venvPython} does not hold IPFS-Toolkit 0.5.33 (${probe.status === 0 ? `it has ${toolkitVersion}` : probe.stderr.trim()}); run \`node scripts/python-toolkit.mjs\``
    )
    process.exit(1)
  }

  const { createKuboCluster, pinnedKubo } = await import('@tk/testkit')
  const only = values.only == null ? undefined : new Set(values.only.split(','))
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-python-bench-'))
  const loadAverage = os.loadavg()
  const began = Date.now()
  const cluster = await createKuboCluster(2)
  const measured = {}
  try {
    if (only == null || only.has('data')) {
      console.error(`  1 KiB messages, ${MESSAGES} a run …`)
      measured.data = await dataWorkload(cluster.nodes, tmp)
    }
    if (only == null || only.has('file')) {
      console.error(`  ${label(FILE_SIZE)} file …`)
      measured.file = await fileWorkload(cluster.nodes, tmp)
    }
  } finally {
    await cluster.stop()
    await fs.rm(tmp, { recursive: true, force: true })
  }

  const rows = []
  const summary = (runs, peakRssMiB) => ({
    median: median(runs),
    min: Math.min(...runs),
    max: Math.max(...runs),
    ...(peakRssMiB == null ? {} : { peakRssMiB })
  })
  const row = (metric, unit, ours, baseline, higherIsBetter) =>
    rows.push({
      area: 'python',
      metric,
      unit,
      ours,
      baseline,
      baselineName: TOOLKIT,
      ratio: ours.median / baseline.median,
      higherIsBetter
    })
  const figure = (entry, side, key) =>
    summary(
      entry.results[side].map(result => result[key]),
      entry.rss[side]
    )
  const single = value => ({ median: value, min: value, max: value })
  if (measured.data != null) {
    const data = measured.data
    row(
      'transmit data 1 KiB, sequential',
      'msg/s',
      figure(data, 'ours', 'rate'),
      figure(data, 'python', 'rate'),
      true
    )
    row(
      'transmit data 1 KiB latency p50',
      'ms',
      figure(data, 'ours', 'p50'),
      figure(data, 'python', 'p50'),
      false
    )
    row(
      'transmit data 1 KiB latency p99',
      'ms',
      figure(data, 'ours', 'p99'),
      figure(data, 'python', 'p99'),
      false
    )
  }
  if (measured.file != null) {
    const file = measured.file
    row(
      `transmit file ${label(FILE_SIZE)}`,
      'MB/s',
      figure(file, 'ours', 'throughput'),
      figure(file, 'python', 'throughput'),
      true
    )
  }
  // Each receiver's peak is over the whole workload: the warm-up and every run. The Python file
  // receiver keeps what it received in memory, so its figure grows with the number of files.
  for (const [key, what] of [
    ['data', `${WARM_UP_MESSAGES + RUNS * MESSAGES} 1 KiB messages`],
    ['file', `${RUNS + 1} files of ${label(FILE_SIZE)}`]
  ]) {
    const entry = measured[key]
    if (entry == null) continue
    for (const role of ['sender', 'receiver']) {
      row(
        `peak RSS, ${role} of ${what}`,
        'MiB',
        single(entry.rss.ours[role]),
        single(entry.rss.python[role]),
        false
      )
    }
  }

  const kuboVersion = pinnedKubo().version
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    kubo: kuboVersion,
    python: pythonVersion,
    baseline: TOOLKIT,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: loadAverage.map(value => Math.round(value * 100) / 100),
    runs: RUNS,
    messagesPerRun: MESSAGES,
    fileBytes: FILE_SIZE,
    quick: values.quick,
    seconds: Math.round((Date.now() - began) / 100) / 10,
    timing:
      'messages: until the send call returned (ours: the receiver checked the SHA-256; Python: it answered "Finished!"); ' +
      "file: ours, transmitFile's call (the receiver checked the SHA-256 and fsynced); Python, from the call to transmit_file " +
      "to the receiver's handler (no hash, no fsync)",
    rss: 'peak RSS per side: each sender and receiver runs in its own process, fresh for each workload'
  }
  const format = value =>
    value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
  const range = value => `${format(value.median)} (${format(value.min)}–${format(value.max)})`
  const rssText = value => (value == null ? '' : `${value.sender.toFixed(0)} / ${value.receiver.toFixed(0)}`)
  console.log(
    `\n@tk/transmission vs the ${TOOLKIT} (Python ${pythonVersion}) — Kubo ${kuboVersion}, Node ${process.version}, ${environment.cores} cores (${environment.cpu}); median of ${RUNS} runs after a warm-up (min–max); ${environment.seconds} s\n`
  )
  console.log(
    '| metric | unit | ours (min–max) | Python (min–max) | ratio | | peak RSS sender / receiver (MiB), ours; Python |'
  )
  console.log('|---|---|---|---|---|---|---|')
  for (const entry of rows) {
    const better = entry.higherIsBetter ? entry.ratio >= 1 : entry.ratio <= 1
    const rss =
      entry.ours.peakRssMiB == null
        ? ''
        : `${rssText(entry.ours.peakRssMiB)}; ${rssText(entry.baseline.peakRssMiB)}`
    const spread = entry.unit === 'MiB' ? format : range
    console.log(
      `| ${entry.metric} | ${entry.unit} | ${spread(entry.unit === 'MiB' ? entry.ours.median : entry.ours)} | ${spread(entry.unit === 'MiB' ? entry.baseline.median : entry.baseline)} | **${entry.ratio.toFixed(2)}x** | ${better ? 'ahead' : '**behind**'} | ${rss} |`
    )
  }
  const results = path.join(repoRoot, 'bench', 'results')
  await fs.mkdir(results, { recursive: true })
  const file = path.join(
    results,
    `python-${environment.date.slice(0, 10)}${values.quick ? '-quick' : ''}.json`
  )
  await fs.writeFile(file, `${JSON.stringify({ environment, rows }, null, 2)}\n`)
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`)
}

if (values.role === 'receiver') await receiver()
else if (values.role === 'sender') await sender()
else await coordinator()
