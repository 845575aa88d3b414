#!/usr/bin/env node
// Two (or more) checkouts of @tk/transmission side by side, to tell a regression from machine load:
//
//   node packages/transmission/bench/compare.bench.mjs --impls old=/path/to/old-checkout,new=.
//   … --rounds 12 --messages 500 --file-mib 64 --workloads data-seq,data-conc,file,conv
//   … --impls 'mixed=/old|/new'   the sender of one checkout, the listener of the other
//
// Each checkout must be installed and built (its packages/transmission/dist and node_modules).
// One receiver process holds every checkout's listeners and one sender process every checkout's
// senders, on the same two fresh testkit nodes; the batches of a round alternate between the
// checkouts (and which goes first alternates by round), so load on a shared machine hits them
// alike. Per batch it records wall figures and the CPU time of the sender, the receiver and both
// Kubo daemons (from /proc, Linux only), which move far less with load than wall time. Prints,
// per workload, each checkout's median and the median (min–max) of the per-round ratios to the
// first checkout; writes bench/results/compare-<time>.json at the repository root.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    api: { type: 'string' },
    peer: { type: 'string' },
    dir: { type: 'string' },
    rounds: { type: 'string', default: '8' },
    workloads: { type: 'string', default: 'data-seq,data-conc,file' },
    impls: { type: 'string' },
    messages: { type: 'string', default: '300' },
    'file-mib': { type: 'string', default: '64' },
    // `sender` or `receiver`: that process writes a CPU profile into --profile-dir.
    profile: { type: 'string' },
    'profile-dir': { type: 'string', default: 'cpu-profiles' }
  }
})
if (values.impls == null) throw new Error('--impls name=checkout,name=checkout is required')
const impls = Object.fromEntries(
  values.impls.split(',').map(pair => {
    const [name, roots] = pair.split('=')
    return [
      name,
      roots
        .split('|')
        .map(root => path.resolve(root))
        .join('|')
    ]
  })
)
const MESSAGES = Number(values.messages)
const FILE_SIZE = Number(values['file-mib']) * 2 ** 20

async function load(root) {
  const { createRequire } = await import('node:module')
  const require = createRequire(path.join(root, 'packages/transmission/package.json'))
  const api = await import(require.resolve('@tk/api'))
  const transmission = await import(path.join(root, 'packages/transmission/dist/index.js'))
  return { api, transmission }
}

const percentile = (samples, fraction) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]
}

const side = (root, index) => (root.includes('|') ? root.split('|')[index] : root)
if (values.role === 'receiver') {
  const closers = []
  for (const [label, root] of Object.entries(impls)) {
    const { api, transmission } = await load(side(root, 1))
    const ipfs = api.createIpfs({ backend: 'http', api: values.api })
    const data = await transmission.listenForTransmissions(`ab-data-${label}`, () => {}, { ipfs })
    const dir = path.join(values.dir, label)
    await fs.mkdir(dir, { recursive: true })
    const file = await transmission.listenForFileTransmissions(
      `ab-file-${label}`,
      async received => fs.rm(received.path, { force: true }),
      { ipfs, directory: dir }
    )
    const conversation = await transmission.listenForConversations(
      `ab-conv-${label}`,
      async request => {
        const c = await request.join()
        for await (const message of c) await c.say(message)
      },
      { ipfs }
    )
    closers.push(
      () => data.close(),
      () => file.close(),
      () => conversation.close(),
      () => ipfs.close()
    )
  }
  process.stdout.write('ready\n')
  process.stdin.resume()
  await once(process.stdin, 'end')
  for (const close of closers) await close()
} else if (values.role === 'sender') {
  const loaded = {}
  for (const [label, root] of Object.entries(impls)) {
    const { api, transmission } = await load(side(root, 0))
    loaded[label] = { transmission, ipfs: api.createIpfs({ backend: 'http', api: values.api }) }
  }
  const conversations = {}
  const message = randomBytes(1024)
  const lines = createInterface({ input: process.stdin })
  process.stdout.write('ready\n')
  for await (const line of lines) {
    const { impl, workload, file } = JSON.parse(line)
    const { transmission, ipfs } = loaded[impl]
    const peer = values.peer
    const latencies = []
    const started = process.hrtime.bigint()
    const cpu0 = process.cpuUsage()
    let count = 0
    if (workload === 'data-seq' || workload === 'data-conc') {
      const concurrency = workload === 'data-seq' ? 1 : 16
      let next = 0
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < MESSAGES) {
            next++
            const t = process.hrtime.bigint()
            await transmission.transmitData(message, peer, `ab-data-${impl}`, { ipfs })
            latencies.push(Number(process.hrtime.bigint() - t) / 1e6)
          }
        })
      )
      count = MESSAGES
    } else if (workload === 'conv') {
      conversations[impl] ??= await transmission.startConversation('ab', peer, `ab-conv-${impl}`, { ipfs })
      const c = conversations[impl]
      for (let i = 0; i < MESSAGES; i++) {
        const t = process.hrtime.bigint()
        await c.say(message)
        await c.listen()
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6)
      }
      count = MESSAGES
    } else if (workload === 'file') {
      await transmission.transmitFile(file, peer, `ab-file-${impl}`, { ipfs })
      count = 1
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const cpu = process.cpuUsage(cpu0)
    process.stdout.write(
      `${JSON.stringify({
        seconds,
        count,
        p50: latencies.length ? percentile(latencies, 0.5) : undefined,
        p99: latencies.length ? percentile(latencies, 0.99) : undefined,
        senderCpu: (cpu.user + cpu.system) / 1e6
      })}\n`
    )
  }
  for (const c of Object.values(conversations)) await c.close()
  for (const { ipfs } of Object.values(loaded)) await ipfs.close()
} else {
  const here = fileURLToPath(import.meta.url)
  const testkit = await import('@tk/testkit')
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-ab-'))
  const cluster = await testkit.createKuboCluster(2)
  const [a, b] = cluster.nodes
  // /proc/<pid>/stat counts in clock ticks, 100 per second on Linux.
  const ticks = 100
  const cpuOf = pid => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      return (Number(fields[11]) + Number(fields[12])) / ticks
    } catch {
      return Number.NaN
    }
  }
  const child = (args, env = {}) =>
    spawn(
      process.execPath,
      [
        ...(values.profile != null && args[1] === values.profile
          ? ['--cpu-prof', '--cpu-prof-dir', values['profile-dir']]
          : []),
        here,
        ...args,
        '--impls',
        values.impls,
        '--messages',
        values.messages
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, ...env }
      }
    )
  const receiver = child(['--role', 'receiver', '--api', b.apiUrl, '--dir', tmp])
  const rlines = createInterface({ input: receiver.stdout })[Symbol.asyncIterator]()
  await rlines.next()
  const sender = child(['--role', 'sender', '--api', a.apiUrl, '--peer', b.peerId])
  const slines = createInterface({ input: sender.stdout })[Symbol.asyncIterator]()
  await slines.next()
  const file = path.join(tmp, 'payload.bin')
  {
    const block = randomBytes(2 ** 20)
    await pipeline(
      (function* () {
        for (let i = 0; i < FILE_SIZE / 2 ** 20; i++) {
          const chunk = Buffer.from(block)
          chunk.writeUInt32BE(i, 0)
          yield chunk
        }
      })(),
      createWriteStream(file)
    )
  }
  const results = []
  const labels = Object.keys(impls)
  const workloads = values.workloads.split(',')
  const rounds = Number(values.rounds)
  try {
    for (let round = -1; round < rounds; round++) {
      for (const workload of workloads) {
        // Alternate which goes first, so neither always follows the other.
        const order = round % 2 === 0 ? labels : [...labels].reverse()
        for (const impl of order) {
          const pids = { kuboA: a.pid, kuboB: b.pid, receiver: receiver.pid }
          const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuOf(p)]))
          sender.stdin.write(`${JSON.stringify({ impl, workload, file })}\n`)
          const { value } = await slines.next()
          const result = JSON.parse(value)
          for (const [k, p] of Object.entries(pids)) result[`${k}Cpu`] = cpuOf(p) - before[k]
          result.load = os.loadavg()[0]
          if (round >= 0) results.push({ round, workload, impl, ...result })
          process.stderr.write(
            `${round} ${workload} ${impl} ${result.seconds.toFixed(3)}s p50=${result.p50?.toFixed(3)} cpu s/r/ka/kb=${result.senderCpu.toFixed(2)}/${result.receiverCpu.toFixed(2)}/${result.kuboACpu.toFixed(2)}/${result.kuboBCpu.toFixed(2)}\n`
          )
        }
      }
    }
  } finally {
    sender.stdin.end()
    receiver.stdin.end()
    await Promise.all([once(sender, 'exit'), once(receiver, 'exit')])
    await cluster.stop()
    await fs.rm(tmp, { recursive: true, force: true })
  }
  const resultsDir = path.resolve(path.dirname(here), '../../../bench/results')
  await fs.mkdir(resultsDir, { recursive: true })
  const out = path.join(
    resultsDir,
    `compare-${new Date().toISOString().slice(0, 19).replaceAll(':', '')}.json`
  )
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cores: os.cpus().length,
    rounds,
    messages: MESSAGES,
    fileBytes: FILE_SIZE
  }
  await fs.writeFile(out, `${JSON.stringify({ environment, impls, results }, null, 1)}\n`)
  // Summary: per workload, per impl, median over rounds; and median of per-round new/old ratios.
  const median = list => {
    const s = [...list].filter(x => !Number.isNaN(x)).sort((x, y) => x - y)
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
  }
  const fmt = v =>
    v == null || Number.isNaN(v) ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3)
  console.log(`written ${out}`)
  const [base, ...others] = labels
  for (const workload of workloads) {
    const metric = r =>
      workload === 'file'
        ? { 'MB/s': FILE_SIZE / r.seconds / 1e6 }
        : { p50: r.p50, p99: r.p99, 'msg/s': r.count / r.seconds }
    const cpuPer = r => {
      const per = workload === 'file' ? FILE_SIZE / 2 ** 28 : r.count / 1000
      return {
        'cpu sender': r.senderCpu / per,
        'cpu receiver': r.receiverCpu / per,
        'cpu kubo': (r.kuboACpu + r.kuboBCpu) / per,
        'cpu total': (r.senderCpu + r.receiverCpu + r.kuboACpu + r.kuboBCpu) / per
      }
    }
    const all = r => ({ ...metric(r), ...cpuPer(r) })
    const keys = Object.keys(all(results.find(r => r.workload === workload)))
    console.log(
      `\n${workload} (${workload === 'file' ? 'cpu-s per 256 MiB' : 'cpu-s per 1000 msgs'}), ${rounds} rounds`
    )
    console.log(
      `| figure | ${labels.join(' | ')} | ${others.map(o => `${o}/${base} (per-round median, min–max)`).join(' | ')} |`
    )
    console.log(`|---|${labels.map(() => '---|').join('')}${others.map(() => '---|').join('')}`)
    for (const key of keys) {
      const of = impl => results.filter(r => r.workload === workload && r.impl === impl).map(r => all(r)[key])
      const perRound = other =>
        [...Array(rounds).keys()].map(round => {
          const x = results.find(r => r.workload === workload && r.impl === other && r.round === round)
          const y = results.find(r => r.workload === workload && r.impl === base && r.round === round)
          return all(x)[key] / all(y)[key]
        })
      console.log(
        `| ${key} | ${labels.map(l => fmt(median(of(l)))).join(' | ')} | ${others
          .map(o => {
            const ratios = perRound(o)
            return `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`
          })
          .join(' | ')} |`
      )
    }
  }
}
