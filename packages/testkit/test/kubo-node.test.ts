import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  connect,
  createKuboCluster,
  createKuboNode,
  findKuboBinary,
  KuboConnectError,
  KuboStartError,
  sweepStaleNodes
} from '../src/index.js'
import { isProcessAlive, post, postJson, sha256, startHoldNode, waitForExit } from './helpers.js'

describe('createKuboCluster', () => {
  it('starts three connected nodes in parallel; a block put on one is read on another; stop() leaves nothing', async () => {
    const cluster = await createKuboCluster(3)
    const [a, b, c] = cluster.nodes
    if (a == null || b == null || c == null) throw new Error('expected three nodes')

    const ids = cluster.nodes.map(node => node.peerId)
    expect(new Set(ids).size).toBe(3)
    expect(new Set(cluster.nodes.map(node => node.apiUrl)).size).toBe(3)
    for (const node of cluster.nodes) {
      expect(node.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(node.swarmAddrs.length).toBeGreaterThan(0)
      for (const address of node.swarmAddrs)
        expect(address).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${node.peerId}$`))
      const id = await postJson<{ ID: string }>(node.apiUrl, 'id')
      expect(id.ID).toBe(node.peerId)
      const peers = await postJson<{ Peers: Array<{ Peer: string }> }>(node.apiUrl, 'swarm/peers')
      // `swarm peers` lists connections: two to the same peer are possible, so compare the set.
      expect([...new Set(peers.Peers.map(peer => peer.Peer))].sort()).toEqual(
        ids.filter(id => id !== node.peerId).sort()
      )
      // connect() also waits for the DHT to take the peers in: a query right away finds them.
      const lan = await postJson<{ Buckets: Array<{ Peers: Array<{ ID: string }> | null }> }>(
        node.apiUrl,
        'stats/dht',
        ['lan']
      )
      expect(lan.Buckets.flatMap(bucket => (bucket.Peers ?? []).map(peer => peer.ID)).sort()).toEqual(
        ids.filter(id => id !== node.peerId).sort()
      )
    }

    const block = randomBytes(64 * 1024)
    const put = await postJson<{ Key: string; Size: number }>(a.apiUrl, 'block/put', [], block)
    expect(put.Size).toBe(block.length)
    const got = await post(c.apiUrl, 'block/get', [put.Key])
    expect(sha256(got)).toBe(sha256(block))

    await cluster.stop()
    for (const node of cluster.nodes) {
      expect(node.running).toBe(false)
      expect(isProcessAlive(node.pid)).toBe(false)
      expect(existsSync(path.dirname(node.repoPath))).toBe(false)
    }
  })
})

describe('connect', () => {
  it('says how long each step took; a failed dial fails with KuboConnectError naming the step', async () => {
    const [a, b, c] = await Promise.all([createKuboNode(), createKuboNode(), createKuboNode()])
    try {
      const steps = await connect(a, b)
      expect(steps.map(step => [step.name, step.finished])).toEqual([
        ['dial', true],
        ['peers', true],
        ['routing', true]
      ])
      await c.stop()
      const error = await connect(a, c, { timeout: 10_000 }).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(KuboConnectError)
      expect((error as KuboConnectError).name).toBe('KuboConnectError')
      expect((error as KuboConnectError).steps.map(step => [step.name, step.finished])).toEqual([
        ['dial', false]
      ])
      expect((error as Error).message).toContain(`Connecting ${a.peerId} (${a.apiUrl}) to ${c.peerId}`)
      expect((error as Error).message).toMatch(
        /failed: .*swarm\/connect.*\(dial \d+\.\d s \(unfinished\)\)$/s
      )
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()])
    }
  })
})

describe('createKuboNode', () => {
  it('applies the testkit config, then the caller’s patch', async () => {
    await using node = await createKuboNode({ config: { Swarm: { ConnMgr: { HighWater: 123 } } } })
    const value = async (key: string): Promise<unknown> =>
      (await postJson<{ Value: unknown }>(node.apiUrl, 'config', [key])).Value
    expect(await value('Swarm.ConnMgr.HighWater')).toBe(123)
    expect(await value('Experimental.Libp2pStreamMounting')).toBe(true)
    expect(await value('Pubsub.Enabled')).toBe(true)
    expect(await value('Bootstrap')).toEqual([])
    expect(await value('Discovery.MDNS.Enabled')).toBe(false)
    expect(node.env.IPFS_PATH).toBe(node.repoPath)
    expect(node.binary).toBe((await findKuboBinary()).path)
  })

  it('stops at the end of an `await using` scope', async () => {
    let pid = 0
    let repoPath = ''
    {
      await using node = await createKuboNode()
      pid = node.pid
      repoPath = node.repoPath
      expect(isProcessAlive(pid)).toBe(true)
      expect(existsSync(repoPath)).toBe(true)
    }
    expect(isProcessAlive(pid)).toBe(false)
    expect(existsSync(path.dirname(repoPath))).toBe(false)
  })

  it.each([
    ['shutdownGrace', { shutdownGrace: 500 }],
    ['its deprecated alias `timeout`', { timeout: 500 }]
  ] as const)(
    'stop() of a daemon that does not answer escalates after each grace (%s) and leaves nothing',
    async (_label, options) => {
      const node = await createKuboNode()
      const { pid, repoPath } = node
      // Frozen: `ipfs shutdown` gets no answer and SIGTERM stays pending; only SIGKILL ends it.
      process.kill(pid, 'SIGSTOP')
      const started = performance.now()
      await node.stop(options)
      const elapsed = performance.now() - started
      expect(node.running).toBe(false)
      expect(isProcessAlive(pid)).toBe(false)
      expect(existsSync(path.dirname(repoPath))).toBe(false)
      // The shutdown call's 0.5 s, the exit grace's 0.5 s, then SIGTERM's 3 s grace before SIGKILL.
      expect(elapsed).toBeGreaterThan(3_900)
      expect(elapsed).toBeLessThan(4_000 + 5_000)
    }
  )

  it('restart() brings the daemon back on the same repo, peer id and addresses', async () => {
    const [a, b] = await Promise.all([createKuboNode(), createKuboNode()])
    try {
      const block = randomBytes(4096)
      const put = await postJson<{ Key: string }>(a.apiUrl, 'block/put', [], block)
      const before = { peerId: a.peerId, apiUrl: a.apiUrl, swarmAddrs: [...a.swarmAddrs], pid: a.pid }

      await a.restart()
      expect(isProcessAlive(before.pid)).toBe(false)
      expect(a.pid).not.toBe(before.pid)
      expect(a.running).toBe(true)
      expect({ peerId: a.peerId, apiUrl: a.apiUrl, swarmAddrs: [...a.swarmAddrs] }).toEqual({
        peerId: before.peerId,
        apiUrl: before.apiUrl,
        swarmAddrs: before.swarmAddrs
      })
      // The same API answers with the same identity and the data kept in the repo.
      expect((await postJson<{ ID: string }>(a.apiUrl, 'id')).ID).toBe(before.peerId)
      expect(sha256(await post(a.apiUrl, 'block/get', [put.Key]))).toBe(sha256(block))
      // Peers can dial the same swarm address again.
      await connect(b, a)
      expect(sha256(await post(b.apiUrl, 'block/get', [put.Key]))).toBe(sha256(block))
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
    expect(isProcessAlive(a.pid)).toBe(false)
    expect(existsSync(path.dirname(a.repoPath))).toBe(false)
  })

  it('reports Kubo’s stderr when the daemon fails to start, and removes its temp repo', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-test-'))
    const saved = process.env.TMPDIR
    process.env.TMPDIR = tmp
    try {
      const error = await createKuboNode({ args: ['--routing=no-such-routing'] }).catch(
        (caught: unknown) => caught
      )
      expect(error).toBeInstanceOf(KuboStartError)
      expect((error as KuboStartError).name).toBe('KuboStartError')
      expect((error as KuboStartError).stderr).toContain('no-such-routing')
      expect((error as Error).message).toContain('exited before it was ready')
      expect(await fs.readdir(tmp)).toEqual([])
    } finally {
      if (saved == null) delete process.env.TMPDIR
      else process.env.TMPDIR = saved
      await fs.rm(tmp, { recursive: true, force: true })
    }
  })

  it('a daemon too slow to become ready fails in its own time with what Kubo said and how long each step took', async () => {
    // A stand-in binary: the real Kubo for `init`, a daemon that prints its first line and a
    // stderr line and then hangs (as a daemon stuck on a starved machine would).
    const real = (await findKuboBinary()).path
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-test-'))
    const binary = path.join(dir, 'ipfs')
    await fs.writeFile(
      binary,
      `#!/bin/sh\nif [ "$1" = daemon ]; then echo 'Initializing daemon...'; echo 'stuck on purpose' >&2; exec sleep 600; fi\nexec '${real}' "$@"\n`,
      { mode: 0o755 }
    )
    try {
      const started = performance.now()
      const error = await createKuboNode({ binary, timeout: 3_000 }).catch((caught: unknown) => caught)
      const elapsed = performance.now() - started
      expect(error).toBeInstanceOf(KuboStartError)
      const startError = error as KuboStartError
      expect(startError.steps.map(step => [step.name, step.finished])).toEqual([
        ['sweep', true],
        ['binary', true],
        ['init', true],
        ['config', true],
        ['start', false]
      ])
      const total = startError.steps.reduce((sum, step) => sum + step.ms, 0)
      expect(total).toBeGreaterThan(2_900)
      expect(total).toBeLessThan(elapsed + 50)
      expect(startError.message).toMatch(
        /did not print "Daemon is ready" within the node's 3 s start timeout/
      )
      expect(startError.message).toContain('its last line: "Initializing daemon..."')
      expect(startError.message).toMatch(
        /\(sweep \d+\.\d s, binary \d+\.\d s, init \d+\.\d s, config \d+\.\d s, start \d+\.\d s \(unfinished\)\)/
      )
      expect(startError.stderr).toContain('stuck on purpose')
      // Settles on its own timeout, well before a test hook's.
      expect(elapsed).toBeLessThan(3_000 + 5_000)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  it('a node records how long each step of its start took', async () => {
    await using node = await createKuboNode()
    expect(node.startSteps.map(step => step.name)).toEqual([
      'sweep',
      'binary',
      'init',
      'config',
      'start',
      'ready'
    ])
    expect(node.startSteps.every(step => step.finished && step.ms >= 0)).toBe(true)
  })

  it('a process interrupted with SIGINT takes its daemon and repo with it', async () => {
    const { child, node } = await startHoldNode(process.env)
    expect(isProcessAlive(node.pid)).toBe(true)
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGINT')
    await exited
    expect(await waitForExit(node.pid)).toBe(true)
    expect(existsSync(path.dirname(node.repoPath))).toBe(false)
  })

  it('what a SIGKILLed process left behind is removed by the next sweep', async () => {
    const { child, node } = await startHoldNode(process.env)
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    // Nothing could clean up: the daemon (its own process group) and the repo are still there.
    expect(isProcessAlive(node.pid)).toBe(true)
    expect(existsSync(node.repoPath)).toBe(true)

    const removed = await sweepStaleNodes()
    expect(removed).toContain(path.dirname(node.repoPath))
    expect(await waitForExit(node.pid)).toBe(true)
    expect(existsSync(path.dirname(node.repoPath))).toBe(false)
  })
})
