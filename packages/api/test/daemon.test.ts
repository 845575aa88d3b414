import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { access, chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { createKuboClient } from '@tk/rpc'
import { findKuboBinary } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BackendTransport } from '../src/backend.js'
import { createDaemonFunctions, type DaemonHandle } from '../src/daemon.js'
import { createNodeFunctions } from '../src/node.js'
import type { IpfsOptions } from '../src/options.js'

const run = promisify(execFile)

/** The daemon and node functions on one instance, built as `createIpfs` builds its groups. */
function open(options: IpfsOptions) {
  const transport = new BackendTransport(options)
  const client = createKuboClient({ transport })
  const context = { client, transport, options }
  const close = async (): Promise<void> => await transport.close()
  return {
    ...createDaemonFunctions(context),
    ...createNodeFunctions(context),
    client,
    close,
    [Symbol.asyncDispose]: close
  }
}

/** Process ids of this user's processes running with IPFS_PATH=<repoPath> (Linux: /proc). */
async function processesOf(repoPath: string): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const environment = await readFile(`/proc/${entry}/environ`, 'utf8')
      if (environment.split('\0').includes(`IPFS_PATH=${repoPath}`)) found.push(Number(entry))
    } catch {
      // Another user's process, or one that just ended.
    }
  }
  return found
}

/** The process's command name (`/proc/<pid>/comm`), or '' once it is gone. */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

async function exists(file: string): Promise<boolean> {
  return await access(file).then(
    () => true,
    () => false
  )
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

let binary: string
let scratch: string
let counter = 0
const newRepoPath = (): string => path.join(scratch, `repo-${++counter}`)

/** `ipfs init --profile=test`: loopback addresses with OS-chosen ports, no bootstrap peers, no mDNS. */
async function initRepo(repoPath: string): Promise<void> {
  await run(binary, ['init', '--profile=test'], { env: { ...process.env, IPFS_PATH: repoPath } })
}

beforeAll(async () => {
  binary = (await findKuboBinary()).path
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tk-api-daemon-'))
  // This worker's environment only: the daemons started here report nothing home.
  process.env.IPFS_TELEMETRY = 'off'
})

afterAll(async () => {
  if (scratch != null) await rm(scratch, { recursive: true, force: true, maxRetries: 5 })
})

describe('startDaemon', () => {
  it('inits a fresh repo, starts its daemon, finds it running when asked again, and stops it', async () => {
    const repoPath = newRepoPath()
    // The CLI backend re-reads the repo's api file on every call, so it finds the daemon once started.
    await using ipfs = open({ backend: 'cli', binary, repoPath })
    expect(await ipfs.isIpfsRunning()).toBe(false)

    const daemon = await ipfs.startDaemon({ init: true, initProfile: 'test' })
    try {
      if (!daemon.started) throw new Error('expected a new daemon')
      expect(daemon.pid).toBeGreaterThan(0)
      expect(daemon.running).toBe(true)
      expect(daemon.repoPath).toBe(repoPath)
      expect(daemon.apiAddress).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*$/)
      expect(daemon.apiAddress).toBe((await readFile(path.join(repoPath, 'api'), 'utf8')).trim())
      expect(await processesOf(repoPath)).toEqual([daemon.pid])

      const config = JSON.parse(await readFile(path.join(repoPath, 'config'), 'utf8'))
      expect(config.Experimental.Libp2pStreamMounting).toBe(true)
      expect(config.Pubsub.Enabled).toBe(true)
      expect(config.Bootstrap).toEqual([])

      expect(await ipfs.isIpfsRunning()).toBe(true)
      expect(await ipfs.myId()).toBe(config.Identity.PeerID)
      await using overHttp = open({ backend: 'http', api: daemon.apiAddress })
      expect(await overHttp.isIpfsRunning()).toBe(true)
      expect(await overHttp.myId()).toBe(config.Identity.PeerID)
      // The options turned on are in effect: tunnels work without a restart.
      expect(await overHttp.client.p2p.ls()).toEqual([])

      const again: DaemonHandle = await ipfs.startDaemon()
      expect(again).toMatchObject({ started: false, apiAddress: daemon.apiAddress })
      await again.stop()
      expect(daemon.running).toBe(true)
      expect(await overHttp.isIpfsRunning()).toBe(true)
    } finally {
      await daemon.stop()
    }
    if (daemon.started) {
      expect(daemon.running).toBe(false)
      expect(isAlive(daemon.pid)).toBe(false)
    }
    expect(await processesOf(repoPath)).toEqual([])
    expect(await ipfs.isIpfsRunning()).toBe(false)
    await daemon.stop()
  })

  it('the same HTTP instance reaches the new daemon, whether or not it asked before the start', async () => {
    const repoPath = newRepoPath()
    await initRepo(repoPath)
    const peerId = JSON.parse(await readFile(path.join(repoPath, 'config'), 'utf8')).Identity.PeerID
    {
      await using ipfs = open({ backend: 'http', binary, repoPath })
      expect(await ipfs.isIpfsRunning()).toBe(false)
      await using daemon = await ipfs.startDaemon()
      expect(daemon.started).toBe(true)
      expect(await ipfs.isIpfsRunning()).toBe(true)
      expect(await ipfs.myId()).toBe(peerId)
    }
    expect(await processesOf(repoPath)).toEqual([])

    const previous = process.env.IPFS_PATH
    process.env.IPFS_PATH = repoPath
    try {
      await using ipfs = open({ backend: 'http', binary })
      await using daemon = await ipfs.startDaemon()
      expect(daemon.started).toBe(true)
      expect(await ipfs.isIpfsRunning()).toBe(true)
      expect(await ipfs.myId()).toBe(peerId)
    } finally {
      if (previous == null) delete process.env.IPFS_PATH
      else process.env.IPFS_PATH = previous
    }
    expect(await processesOf(repoPath)).toEqual([])
  })

  it('leaves the config alone when streamMounting and pubsub are false', async () => {
    const repoPath = newRepoPath()
    await initRepo(repoPath)
    const before = JSON.parse(await readFile(path.join(repoPath, 'config'), 'utf8'))
    await using ipfs = open({ backend: 'cli', binary, repoPath })
    {
      await using daemon = await ipfs.startDaemon({ streamMounting: false, pubsub: false })
      expect(daemon.started).toBe(true)
      await expect(ipfs.client.p2p.ls()).rejects.toThrow(/stream mounting not enabled/)
    }
    const after = JSON.parse(await readFile(path.join(repoPath, 'config'), 'utf8'))
    expect(after.Experimental.Libp2pStreamMounting).toBe(before.Experimental.Libp2pStreamMounting)
    expect(after.Pubsub).toEqual(before.Pubsub)
    expect(await processesOf(repoPath)).toEqual([])
  })

  it('rejects with the daemon stderr when the repo path is a file, leaving no process', async () => {
    const repoPath = path.join(scratch, 'not-a-repo')
    await writeFile(repoPath, 'a file, not a directory')
    await using ipfs = open({ backend: 'cli', binary, repoPath })
    const error = await ipfs.startDaemon().then(
      () => undefined,
      (failure: unknown) =>
        failure as { name: string; stderr: string; exitCode: number | null; message: string }
    )
    expect(error?.name).toBe('DaemonStartError')
    expect(error?.stderr).toContain(`${repoPath}/config: not a directory`)
    expect(error?.message).toContain('not a directory')
    expect(error?.exitCode).toBe(1)
    expect(await processesOf(repoPath)).toEqual([])
  })

  it('rejects with the daemon stderr when its API port is taken, leaving no process', async () => {
    const repoPath = newRepoPath()
    await initRepo(repoPath)
    const blocker = net.createServer()
    await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
    try {
      const port = (blocker.address() as net.AddressInfo).port
      await run(binary, ['config', 'Addresses.API', `/ip4/127.0.0.1/tcp/${port}`], {
        env: { ...process.env, IPFS_PATH: repoPath }
      })
      await using ipfs = open({ backend: 'cli', binary, repoPath })
      await expect(ipfs.startDaemon()).rejects.toMatchObject({
        name: 'DaemonStartError',
        stderr: expect.stringMatching(/address already in use/),
        exitCode: 1
      })
    } finally {
      await new Promise<void>(resolve => blocker.close(() => resolve()))
    }
    expect(await processesOf(repoPath)).toEqual([])
  })

  it('kills the daemon when the start is aborted', async () => {
    // The real Kubo behind a wrapper that holds back its "Daemon is ready" line and marks that it
    // came: the abort lands while Kubo is up and startDaemon still waits, however slow the machine
    // (polling for the process raced Kubo's start under CI load, and Kubo sometimes won). `exec`
    // keeps Kubo the process startDaemon spawned; the filter drains the rest of its output.
    const repoPath = newRepoPath()
    await initRepo(repoPath)
    const readySeen = path.join(scratch, `ready-seen-${counter}`)
    const withholding = path.join(scratch, `withholding-ipfs-${counter}`)
    await writeFile(
      withholding,
      `#!/bin/bash
exec '${binary}' "$@" > >(while IFS= read -r line; do case "$line" in *"Daemon is ready"*) : > '${readySeen}'; exec cat > /dev/null;; esac; printf '%s\n' "$line"; done)
`
    )
    await chmod(withholding, 0o755)
    await using ipfs = open({ backend: 'cli', binary: withholding, repoPath })
    const controller = new AbortController()
    const starting = ipfs.startDaemon({ signal: controller.signal })
    let settled = false
    void starting.then(
      () => (settled = true),
      () => (settled = true)
    )
    const deadline = Date.now() + 60_000
    while (!(await exists(readySeen))) {
      if (settled || Date.now() > deadline) throw new Error('Kubo never said "Daemon is ready"')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    const kubo = (await processesOf(repoPath)).filter(pid => commandOf(pid) === 'ipfs')
    expect(kubo).toHaveLength(1)
    expect(settled).toBe(false)
    controller.abort()
    await expect(starting).rejects.toMatchObject({ name: 'AbortError' })
    expect(kubo.map(isAlive)).toEqual([false])
    // The output filter ends when Kubo's output does.
    const gone = Date.now() + 10_000
    while ((await processesOf(repoPath)).length > 0 && Date.now() < gone)
      await new Promise(resolve => setTimeout(resolve, 20))
    expect(await processesOf(repoPath)).toEqual([])
    expect(await ipfs.isIpfsRunning()).toBe(false)
  })

  it('kills a daemon that does not become ready within the timeout', async () => {
    // A stand-in that never prints "Daemon is ready": only this toolkit's process handling is under test.
    const stuck = path.join(scratch, 'stuck-ipfs')
    await writeFile(stuck, '#!/bin/sh\necho "Initializing daemon..."\nexec sleep 60\n')
    await chmod(stuck, 0o755)
    const repoPath = newRepoPath()
    await using ipfs = open({ backend: 'cli', binary: stuck, repoPath })
    const started = Date.now()
    await expect(ipfs.startDaemon({ timeout: 1_500 })).rejects.toMatchObject({
      name: 'RpcTimeoutError',
      timeout: 1_500
    })
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await processesOf(repoPath)).toEqual([])
  })

  it('stop() kills a daemon that ignores SIGTERM once killGrace has passed', async () => {
    // A stand-in that says it is ready and ignores SIGTERM: only this toolkit's process handling is under test.
    const stubborn = path.join(scratch, 'stubborn-ipfs')
    await writeFile(
      stubborn,
      '#!/bin/sh\ntrap "" TERM\necho "RPC API server listening on /ip4/127.0.0.1/tcp/9"\necho "Daemon is ready"\nexec sleep 60\n'
    )
    await chmod(stubborn, 0o755)
    const repoPath = newRepoPath()
    await using ipfs = open({ backend: 'cli', binary: stubborn, repoPath })
    const daemon = await ipfs.startDaemon({ timeout: 10_000 })
    if (!daemon.started) throw new Error('expected a started daemon')
    expect(daemon.apiAddress).toBe('/ip4/127.0.0.1/tcp/9')
    expect(await processesOf(repoPath)).toEqual([daemon.pid])
    const started = Date.now()
    await daemon.stop({ killGrace: 500 })
    const elapsed = Date.now() - started
    expect(daemon.running).toBe(false)
    expect(await processesOf(repoPath)).toEqual([])
    expect(elapsed).toBeGreaterThanOrEqual(450)
    expect(elapsed).toBeLessThan(500 + 5_000)
  })

  it('rejects at once when the signal is already aborted', async () => {
    await using ipfs = open({ backend: 'cli', binary, repoPath: newRepoPath() })
    await expect(ipfs.startDaemon({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError'
    })
  })
})
