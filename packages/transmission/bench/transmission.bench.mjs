#!/usr/bin/env node
// @tk/transmission against the raw Kubo tunnel it runs on (`p2p listen` / `p2p forward` with
// plain sockets), on two fresh testkit daemons, in one run.
//
//   pnpm --filter @tk/transmission bench             full: 64 MiB and 1 GiB, 5 measured runs after a warm-up
//   pnpm --filter @tk/transmission bench -- --quick  64 MiB only, 3 runs, fewer messages
//   … -- --only raw-echo,data                         some workloads: raw-bulk, raw-disk, file, raw-echo, data, conversation
//
// Every workload runs in two child processes started fresh for it: a receiver on node B and a
// sender on node A, so the peak RSS reported is one side's, for that workload alone. Figures:
//   (a) raw tunnel: MB/s of 64 MiB / 1 GiB into a byte-counting server; 1 KiB echo round trip on
//       an open connection (p50/p99) and on a new connection each time (what one small
//       transmission pays for its own stream), sequential and 16 at once;
//   (b) transmitFile MB/s, 64 MiB / 1 GiB (includes the receiver's SHA-256 check and fsync);
//   (c) transmitData of 1 KiB: latency p50/p99 and messages/s, sequential and 16 at once;
//   (d) a conversation's `say` plus the peer's reply read with `listen`: p50/p99.
// Prints a table with ratios to (a) and writes bench/results/transmission-<date>.json at the
// repository root.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    role: { type: 'string' },
    workload: { type: 'string' },
    api: { type: 'string' },
    peer: { type: 'string' },
    protocol: { type: 'string' },
    file: { type: 'string' },
    size: { type: 'string' },
    directory: { type: 'string' }
  }
})

const RUNS = values.quick ? 3 : 5
const SIZES = values.quick ? [64 * 2 ** 20] : [64 * 2 ** 20, 2 ** 30]
/** Round trips per run for the latency figures. */
const MESSAGES = values.quick ? 150 : 500
const CONCURRENCY = 16
const SMALL = 1024
const BLOCK = 2 ** 20

// ---- shared ----------------------------------------------------------------------------------

const median = list => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]

function percentile(samples, fraction) {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]
}

const portOf = address => Number(/\/tcp\/(\d+)/.exec(address)?.[1])

async function dial(port) {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.setNoDelay(true)
  await once(socket, 'connect')
  return socket
}

/** Resolves once `socket` has received `length` more bytes. */
function receive(socket, length) {
  return new Promise((resolve, reject) => {
    let got = 0
    const onData = chunk => {
      got += chunk.byteLength
      if (got >= length) {
        cleanup()
        resolve()
      }
    }
    const onClose = () => {
      cleanup()
      reject(new Error(`the tunnel closed after ${got} of ${length} bytes`))
    }
    const cleanup = () => {
      socket.off('data', onData)
      socket.off('close', onClose)
    }
    socket.on('data', onData)
    socket.on('close', onClose)
  })
}

async function connectIpfs(api) {
  const { createIpfs } = await import('@tk/api')
  return createIpfs({ backend: 'http', api })
}

// ---- receiver: serves one workload on node B until told to stop ------------------------------

async function receiver() {
  const ipfs = await connectIpfs(values.api)
  const transmission = await import('../dist/index.js')
  const closers = []
  const protocol = values.protocol
  const name = protocol.slice('/x/'.length)

  // A plain TCP service behind `p2p listen`, the tunnel with nothing of ours on top.
  const serveRaw = async onConnection => {
    const server = net.createServer(socket => {
      socket.setNoDelay(true)
      socket.on('error', () => {
        // The sender destroys its end when done; Kubo then resets ours.
      })
      onConnection(socket)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const tunnel = await ipfs.client.p2p.listen(protocol, `/ip4/127.0.0.1/tcp/${server.address().port}`, {
      foreground: true
    })
    closers.push(
      () => tunnel.close(),
      () => new Promise(resolve => server.close(resolve))
    )
  }

  switch (values.workload) {
    case 'raw-bulk':
      // An 8-byte length, then that many bytes, counted and dropped; one byte back when all are in
      // (the tunnel has no half-close, so the end has to be said in-band, as our `done` frame does).
      await serveRaw(socket => {
        let expected
        let received = 0
        let head = Buffer.alloc(0)
        socket.on('data', chunk => {
          if (expected === undefined) {
            head = Buffer.concat([head, chunk])
            if (head.byteLength < 8) return
            expected = Number(head.readBigUInt64BE(0))
            received = head.byteLength - 8
          } else {
            received += chunk.byteLength
          }
          if (received === expected) socket.write(Buffer.of(1))
        })
      })
      break
    case 'raw-disk':
      // The same, but into a file that is fsynced before the byte back: what moving a file costs
      // without our framing and SHA-256.
      await serveRaw(socket => {
        let expected
        let received = 0
        let head = Buffer.alloc(0)
        let file
        let target
        socket.on('data', async chunk => {
          socket.pause()
          let piece = chunk
          if (expected === undefined) {
            head = Buffer.concat([head, chunk])
            if (head.byteLength < 8) return socket.resume()
            expected = Number(head.readBigUInt64BE(0))
            piece = head.subarray(8)
            target = path.join(values.directory, `raw-${randomBytes(6).toString('hex')}`)
            file = await fs.open(target, 'w')
          }
          await file.write(piece, 0, piece.byteLength, received)
          received += piece.byteLength
          if (received === expected) {
            await file.sync()
            await file.close()
            await fs.rm(target)
            socket.write(Buffer.of(1))
          }
          socket.resume()
        })
      })
      break
    case 'raw-echo':
      await serveRaw(socket => socket.on('data', chunk => socket.write(chunk)))
      break
    case 'file': {
      const listener = await transmission.listenForFileTransmissions(
        name,
        async file => {
          await fs.rm(file.path, { force: true })
        },
        { ipfs, directory: values.directory }
      )
      closers.push(() => listener.close())
      break
    }
    case 'data': {
      const listener = await transmission.listenForTransmissions(name, () => {}, { ipfs })
      closers.push(() => listener.close())
      break
    }
    case 'conversation': {
      const listener = await transmission.listenForConversations(
        name,
        async request => {
          const conversation = await request.join()
          for await (const message of conversation) await conversation.say(message)
        },
        { ipfs }
      )
      closers.push(() => listener.close())
      break
    }
    default:
      throw new Error(`unknown workload ${values.workload}`)
  }
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
  // The coordinator closes our stdin once the sender is done.
  process.stdin.resume()
  await once(process.stdin, 'end')
  for (const close of closers) await close()
  await ipfs.close()
  process.stdout.write(`${JSON.stringify({ peakRss: process.resourceUsage().maxRSS * 1024 })}\n`)
}

// ---- sender: runs one workload on node A, a warm-up then RUNS measured runs ------------------

/** `count` operations, `concurrency` at a time; returns ops/s and each one's latency (ms). */
async function measure(count, concurrency, operation) {
  const latencies = []
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++
        const began = process.hrtime.bigint()
        await operation()
        latencies.push(Number(process.hrtime.bigint() - began) / 1e6)
      }
    })
  )
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { rate: count / seconds, latencies }
}

async function sender() {
  const ipfs = await connectIpfs(values.api)
  const transmission = await import('../dist/index.js')
  const protocol = values.protocol
  const name = protocol.slice('/x/'.length)
  const peer = values.peer
  const size = Number(values.size ?? 0)
  const closers = []

  const rawForward = async () => {
    const tunnel = await ipfs.client.p2p.forward(protocol, '/ip4/127.0.0.1/tcp/0', `/p2p/${peer}`, {
      foreground: true
    })
    closers.push(() => tunnel.close())
    return portOf(tunnel.listenAddress)
  }

  /** Each workload: named measures, each a function of one run returning its figure. */
  let measures
  switch (values.workload) {
    case 'raw-bulk':
    case 'raw-disk': {
      const port = await rawForward()
      const block = randomBytes(BLOCK)
      // Memory to memory: one block sent over and over. File to file: the file, as transmitFile reads it.
      const content =
        values.workload === 'raw-bulk'
          ? function* () {
              for (let sent = 0; sent < size; sent += BLOCK)
                yield sent + BLOCK <= size ? block : block.subarray(0, size - sent)
            }
          : () => createReadStream(values.file, { highWaterMark: 256 * 1024 })
      measures = {
        throughput: async () => {
          const started = process.hrtime.bigint()
          const socket = await dial(port)
          const acknowledged = receive(socket, 1)
          const head = Buffer.alloc(8)
          head.writeBigUInt64BE(BigInt(size))
          socket.write(head)
          for await (const piece of content()) {
            if (!socket.write(piece)) await once(socket, 'drain')
          }
          await acknowledged
          const seconds = Number(process.hrtime.bigint() - started) / 1e9
          socket.destroy()
          return size / seconds / 1e6
        }
      }
      break
    }
    case 'raw-echo': {
      const port = await rawForward()
      const message = randomBytes(SMALL)
      const echo = async socket => {
        const back = receive(socket, SMALL)
        socket.write(message)
        await back
      }
      const open = await dial(port)
      closers.push(() => open.destroy())
      const oneShot = async () => {
        const socket = await dial(port)
        try {
          await echo(socket)
        } finally {
          socket.destroy()
        }
      }
      // The p99 and rate measures read the samples their p50 measure just took, in the same run.
      let roundTrips
      let oneShots
      measures = {
        'rtt-p50': async () => {
          roundTrips = await measure(MESSAGES, 1, () => echo(open))
          return percentile(roundTrips.latencies, 0.5)
        },
        'rtt-p99': async () => percentile(roundTrips.latencies, 0.99),
        'connect-p50': async () => {
          oneShots = await measure(MESSAGES, 1, oneShot)
          return percentile(oneShots.latencies, 0.5)
        },
        'connect-p99': async () => percentile(oneShots.latencies, 0.99),
        'connect-rate': async () => oneShots.rate,
        'connect-rate-concurrent': async () => (await measure(MESSAGES, CONCURRENCY, oneShot)).rate
      }
      break
    }
    case 'file':
      measures = {
        throughput: async () => {
          const started = process.hrtime.bigint()
          await transmission.transmitFile(values.file, peer, name, { ipfs })
          return size / (Number(process.hrtime.bigint() - started) / 1e9) / 1e6
        }
      }
      break
    case 'data': {
      const message = randomBytes(SMALL)
      const send = () => transmission.transmitData(message, peer, name, { ipfs })
      let sequential
      measures = {
        'latency-p50': async () => {
          sequential = await measure(MESSAGES, 1, send)
          return percentile(sequential.latencies, 0.5)
        },
        'latency-p99': async () => percentile(sequential.latencies, 0.99),
        rate: async () => sequential.rate,
        'rate-concurrent': async () => (await measure(MESSAGES, CONCURRENCY, send)).rate
      }
      break
    }
    case 'conversation': {
      const conversation = await transmission.startConversation('bench', peer, name, { ipfs })
      closers.push(() => conversation.close())
      const message = randomBytes(SMALL)
      let latencies
      measures = {
        'rtt-p50': async () => {
          ;({ latencies } = await measure(MESSAGES, 1, async () => {
            await conversation.say(message)
            const reply = await conversation.listen()
            if (reply.byteLength !== SMALL) throw new Error(`the reply has ${reply.byteLength} bytes`)
          }))
          return percentile(latencies, 0.5)
        },
        'rtt-p99': async () => percentile(latencies, 0.99)
      }
      break
    }
    default:
      throw new Error(`unknown workload ${values.workload}`)
  }

  const results = Object.fromEntries(Object.keys(measures).map(key => [key, []]))
  for (let run = -1; run < RUNS; run++) {
    for (const [key, measureOnce] of Object.entries(measures)) {
      const value = await measureOnce()
      // Run -1 is the warm-up: tunnels opened, code paths compiled, page cache filled.
      if (run >= 0) results[key].push(value)
    }
  }
  for (const close of closers.reverse()) await close()
  await ipfs.close()
  process.stdout.write(`${JSON.stringify({ results, peakRss: process.resourceUsage().maxRSS * 1024 })}\n`)
}

// ---- coordinator -------------------------------------------------------------------------------

function child(args) {
  const process_ = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), ...args, ...(values.quick ? ['--quick'] : [])],
    { stdio: ['pipe', 'pipe', 'inherit'] }
  )
  const lines = []
  let waiting
  let buffer = ''
  process_.stdout.on('data', chunk => {
    buffer += chunk
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      lines.push(JSON.parse(buffer.slice(0, newline)))
      buffer = buffer.slice(newline + 1)
      waiting?.()
    }
  })
  const exited = new Promise((resolve, reject) =>
    process_.once('exit', code =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} failed (${code})`))
    )
  )
  exited.catch(() => waiting?.())
  return {
    process: process_,
    exited,
    /** The next JSON line the child prints. */
    next: async () => {
      while (lines.length === 0) {
        await Promise.race([new Promise(resolve => (waiting = resolve)), exited])
        if (lines.length === 0 && process_.exitCode != null) await exited
      }
      return lines.shift()
    }
  }
}

let protocolCounter = 0

/** One workload: a fresh receiver on B, a sender on A, their results and peak RSS. */
async function runWorkload(nodes, workload, extra = {}) {
  const [a, b] = nodes
  const protocol = `/x/bench-${workload}-${++protocolCounter}`
  const receiving = child([
    '--role',
    'receiver',
    '--workload',
    workload,
    '--api',
    b.apiUrl,
    '--protocol',
    protocol,
    ...(extra.directory == null ? [] : ['--directory', extra.directory])
  ])
  await receiving.next()
  const sending = child([
    '--role',
    'sender',
    '--workload',
    workload,
    '--api',
    a.apiUrl,
    '--peer',
    b.peerId,
    '--protocol',
    protocol,
    ...(extra.file == null ? [] : ['--file', extra.file]),
    ...(extra.size == null ? [] : ['--size', String(extra.size)])
  ])
  const sent = await sending.next()
  await sending.exited
  receiving.process.stdin.end()
  const received = await receiving.next()
  await receiving.exited
  return { results: sent.results, senderRss: sent.peakRss, receiverRss: received.peakRss }
}

/** A file of `size` bytes that does not repeat block to block. */
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

const label = size => (size >= 2 ** 30 ? `${size / 2 ** 30} GiB` : `${size / 2 ** 20} MiB`)

async function coordinator() {
  const { createKuboCluster, pinnedKubo } = await import('@tk/testkit')
  const only = values.only == null ? undefined : new Set(values.only.split(','))
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-transmission-bench-'))
  const cluster = await createKuboCluster(2)
  const measured = {}
  try {
    const workloads = []
    for (const size of SIZES) {
      workloads.push({ key: `raw-bulk ${label(size)}`, workload: 'raw-bulk', size })
      workloads.push({ key: `raw-disk ${label(size)}`, workload: 'raw-disk', size, file: true })
      workloads.push({ key: `file ${label(size)}`, workload: 'file', size, file: true })
    }
    workloads.push({ key: 'raw-echo', workload: 'raw-echo' })
    workloads.push({ key: 'data', workload: 'data' })
    workloads.push({ key: 'conversation', workload: 'conversation' })
    for (const entry of workloads) {
      if (only != null && !only.has(entry.workload)) continue
      const extra = { size: entry.size }
      if (entry.file) {
        extra.file = path.join(tmp, `bench-${entry.size}.bin`)
        extra.directory = await fs.mkdtemp(path.join(tmp, 'inbox-'))
        await makeFile(extra.file, entry.size)
      }
      console.error(`  ${entry.key} …`)
      measured[entry.key] = await runWorkload(cluster.nodes, entry.workload, extra)
      if (extra.file != null) await fs.rm(extra.file, { force: true })
    }
  } finally {
    await cluster.stop()
    await fs.rm(tmp, { recursive: true, force: true })
  }

  /** Median, min and max over the runs of one measure; undefined when its workload did not run. */
  const summary = (workload, measure) => {
    const entry = measured[workload]
    if (entry == null) return undefined
    const runs = entry.results[measure]
    return {
      median: median(runs),
      min: Math.min(...runs),
      max: Math.max(...runs),
      peakRssMiB: { sender: entry.senderRss / 2 ** 20, receiver: entry.receiverRss / 2 ** 20 }
    }
  }
  const raw = []
  const rows = []
  const rawFigure = (metric, unit, workload, measure) => {
    const value = summary(workload, measure)
    if (value != null) raw.push({ metric, unit, ...value })
    return value == null ? undefined : { metric, ...value }
  }
  const row = (metric, unit, workload, measure, baseline, higherIsBetter, target) => {
    const ours = summary(workload, measure)
    if (ours == null || baseline == null) return
    const ratio = ours.median / baseline.median
    rows.push({
      area: 'transmission',
      metric,
      unit,
      ours: ours.median,
      baseline: baseline.median,
      baselineName: 'raw tunnel',
      baselineMetric: baseline.metric,
      ratio,
      higherIsBetter,
      min: ours.min,
      max: ours.max,
      baselineMin: baseline.min,
      baselineMax: baseline.max,
      peakRssMiB: ours.peakRssMiB,
      baselinePeakRssMiB: baseline.peakRssMiB,
      ...(target == null ? {} : { target, met: higherIsBetter ? ratio >= target : ratio <= target })
    })
  }

  for (const size of SIZES) {
    const tunnel = rawFigure(
      `raw tunnel ${label(size)}, memory to memory`,
      'MB/s',
      `raw-bulk ${label(size)}`,
      'throughput'
    )
    const disk = rawFigure(
      `raw tunnel ${label(size)}, file to file (read, write, fsync; no hash, no frames)`,
      'MB/s',
      `raw-disk ${label(size)}`,
      'throughput'
    )
    row(`transmitFile ${label(size)}`, 'MB/s', `file ${label(size)}`, 'throughput', tunnel, true, 0.9)
    row(
      `transmitFile ${label(size)} (vs raw file to file)`,
      'MB/s',
      `file ${label(size)}`,
      'throughput',
      disk,
      true,
      0.95
    )
  }
  const rttP50 = rawFigure('raw 1 KiB echo, open connection, p50', 'ms', 'raw-echo', 'rtt-p50')
  const rttP99 = rawFigure('raw 1 KiB echo, open connection, p99', 'ms', 'raw-echo', 'rtt-p99')
  const connectP50 = rawFigure('raw 1 KiB echo, new connection, p50', 'ms', 'raw-echo', 'connect-p50')
  const connectP99 = rawFigure('raw 1 KiB echo, new connection, p99', 'ms', 'raw-echo', 'connect-p99')
  const connectRate = rawFigure(
    'raw 1 KiB echo, new connection, sequential',
    'ops/s',
    'raw-echo',
    'connect-rate'
  )
  const connectConcurrent = rawFigure(
    `raw 1 KiB echo, new connection, ${CONCURRENCY} at once`,
    'ops/s',
    'raw-echo',
    'connect-rate-concurrent'
  )
  row('transmitData 1 KiB latency p50', 'ms', 'data', 'latency-p50', rttP50, false, 2)
  row('transmitData 1 KiB latency p99', 'ms', 'data', 'latency-p99', rttP99, false, 2)
  row('transmitData 1 KiB latency p50 (vs new connection)', 'ms', 'data', 'latency-p50', connectP50, false)
  row('transmitData 1 KiB latency p99 (vs new connection)', 'ms', 'data', 'latency-p99', connectP99, false)
  // With reused streams a message no longer pays for a stream of its own: the targets are the raw
  // tunnel's rate of new connections (issue 15).
  row('transmitData 1 KiB sequential', 'msg/s', 'data', 'rate', connectRate, true, 1)
  row(
    `transmitData 1 KiB, ${CONCURRENCY} at once`,
    'msg/s',
    'data',
    'rate-concurrent',
    connectConcurrent,
    true,
    0.9
  )
  row('conversation say + reply p50', 'ms', 'conversation', 'rtt-p50', rttP50, false)
  row('conversation say + reply p99', 'ms', 'conversation', 'rtt-p99', rttP99, false)

  const kuboVersion = pinnedKubo().version
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    kubo: kuboVersion,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    runs: RUNS,
    messagesPerRun: MESSAGES,
    quick: values.quick,
    rss: 'peak RSS per side: sender and receiver each run in their own process, fresh for each workload'
  }
  const format = value =>
    value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
  const rss = value => `${value.sender.toFixed(0)} / ${value.receiver.toFixed(0)}`
  console.log(
    `\n@tk/transmission vs the raw tunnel — Kubo ${kuboVersion}, Node ${process.version}, ${environment.cores} cores (${environment.cpu}); median of ${RUNS} runs after a warm-up (min–max)\n`
  )
  console.log('| raw tunnel (a) | unit | median (min–max) | peak RSS sender / receiver (MiB) |')
  console.log('|---|---|---|---|')
  for (const figure of raw) {
    console.log(
      `| ${figure.metric} | ${figure.unit} | ${format(figure.median)} (${format(figure.min)}–${format(figure.max)}) | ${rss(figure.peakRssMiB)} |`
    )
  }
  console.log(
    '\n| @tk/transmission | unit | ours (min–max) | raw tunnel | ratio | target | peak RSS sender / receiver (MiB) |'
  )
  console.log('|---|---|---|---|---|---|---|')
  for (const entry of rows) {
    const target =
      entry.target == null
        ? ''
        : `${entry.higherIsBetter ? '≥' : '≤'} ${entry.target}x ${entry.met ? 'met' : `**missed** by ${Math.abs((entry.higherIsBetter ? entry.target / entry.ratio : entry.ratio / entry.target) * 100 - 100).toFixed(0)} %`}`
    console.log(
      `| ${entry.metric} | ${entry.unit} | ${format(entry.ours)} (${format(entry.min)}–${format(entry.max)}) | ${format(entry.baseline)} | **${entry.ratio.toFixed(2)}x** | ${target} | ${rss(entry.peakRssMiB)} |`
    )
  }
  const results = path.resolve(here, '../../../bench/results')
  await fs.mkdir(results, { recursive: true })
  const file = path.join(
    results,
    `transmission-${environment.date.slice(0, 10)}${values.quick ? '-quick' : ''}.json`
  )
  await fs.writeFile(file, `${JSON.stringify({ environment, raw, rows }, null, 2)}\n`)
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`)
}

if (values.role === 'receiver') await receiver()
else if (values.role === 'sender') await sender()
else await coordinator()
