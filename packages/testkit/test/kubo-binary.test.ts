import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_LOCK_POLL_INTERVAL } from '../src/constants.js'
import { findKuboBinary, type KuboBinary, type KuboBuildProgress, pinnedKubo } from '../src/index.js'

// These tests steer the resolver through each of its five paths with a private env and cache
// folder. Paths 1–3 use the real Kubo binary. Path 4 (build) uses a stand-in `go` script, a stub
// of the Go toolchain, to test locking and progress in seconds; the real build is exercised by
// `pnpm kubo` on every fresh machine (CI's first run).

let real: KuboBinary
const folders: string[] = []

async function folder(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-resolver-'))
  folders.push(dir)
  return dir
}

async function script(dir: string, name: string, body: string): Promise<string> {
  const file = path.join(dir, name)
  await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

/** A stand-in `go` that "builds" a tiny `ipfs` script printing `version`, and counts its builds. */
async function fakeGo(dir: string, goVersion: string, kuboVersion = pinnedKubo().version): Promise<string> {
  return await script(
    dir,
    'go',
    `case "$1" in
  env) echo "go${goVersion}" ;;
  list) echo "go: downloading example.com/a v1.0.0" >&2; echo "go: downloading example.com/b v1.0.0" >&2
        printf 'fmt\\nexample.com/a\\ngithub.com/ipfs/kubo/cmd/ipfs\\n' ;;
  build) out="$5"; echo "$out" >> "${dir}/builds"; /bin/sleep 1
         echo fmt >&2; echo example.com/a >&2; echo github.com/ipfs/kubo/cmd/ipfs >&2
         printf '#!/bin/sh\\necho ${kuboVersion}\\n' > "$out"; /bin/chmod +x "$out" ;;
  *) exit 2 ;;
esac`
  )
}

beforeAll(async () => {
  real = await findKuboBinary()
})

afterEach(async () => {
  await Promise.all(folders.splice(0).map(dir => fs.rm(dir, { recursive: true, force: true })))
})

describe('findKuboBinary', () => {
  it('1. uses KUBO_BINARY first', async () => {
    const found = await findKuboBinary({
      env: { KUBO_BINARY: real.path, PATH: '' },
      cacheDir: await folder(),
      build: false
    })
    expect(found).toEqual({ path: real.path, version: pinnedKubo().version, source: 'env' })
  })

  it('1. refuses a KUBO_BINARY that does not run or is too old, saying what to do', async () => {
    const dir = await folder()
    const missing = await findKuboBinary({
      env: { KUBO_BINARY: path.join(dir, 'nope'), PATH: '' },
      cacheDir: dir
    }).catch((error: unknown) => error)
    expect((missing as Error).name).toBe('KuboBinaryError')
    expect((missing as Error).message).toContain('KUBO_BINARY')

    const old = await script(dir, 'ipfs', 'echo 0.30.0')
    const tooOld = await findKuboBinary({ env: { KUBO_BINARY: old, PATH: '' }, cacheDir: dir }).catch(
      (error: unknown) => error
    )
    expect((tooOld as Error).name).toBe('KuboBinaryError')
    expect((tooOld as Error).message).toContain('Kubo 0.30.0')
    expect((tooOld as Error).message).toContain('>= 0.40.0')
  })

  it('2. uses ipfs on PATH when its version is supported', async () => {
    const bin = await folder()
    await fs.symlink(real.path, path.join(bin, 'ipfs'))
    const found = await findKuboBinary({ env: { PATH: bin }, cacheDir: await folder(), build: false })
    expect(found).toEqual({ path: path.join(bin, 'ipfs'), version: pinnedKubo().version, source: 'path' })
  })

  it('3. skips an unsupported ipfs on PATH and uses the cached pinned build', async () => {
    const bin = await folder()
    await script(bin, 'ipfs', 'echo 0.30.0')
    const cacheDir = await folder()
    const cached = path.join(cacheDir, 'kubo', `v${pinnedKubo().version}`, 'ipfs')
    await fs.mkdir(path.dirname(cached), { recursive: true })
    await fs.symlink(real.path, cached)
    const found = await findKuboBinary({ env: { PATH: bin }, cacheDir, build: false })
    expect(found).toEqual({ path: cached, version: pinnedKubo().version, source: 'cache' })
  })

  it('4. builds the pinned version with Go, once, while concurrent callers wait', async () => {
    const tools = await folder()
    const go = await fakeGo(tools, '1.99.0')
    const cacheDir = await folder()
    const events: KuboBuildProgress[] = []
    const options = {
      env: { PATH: '' },
      cacheDir,
      go,
      onProgress: (event: KuboBuildProgress) => events.push(event)
    }

    const [first, second] = await Promise.all([findKuboBinary(options), findKuboBinary(options)])
    const target = path.join(cacheDir, 'kubo', `v${pinnedKubo().version}`, 'ipfs')
    expect(first).toEqual({ path: target, version: pinnedKubo().version, source: 'build' })
    expect(second.path).toBe(target)
    expect((await fs.readFile(path.join(tools, 'builds'), 'utf8')).trim().split('\n')).toHaveLength(1)
    expect(spawnSync(target, ['version', '--number'], { encoding: 'utf8' }).stdout.trim()).toBe(
      pinnedKubo().version
    )

    const phases = events.map(event => event.phase)
    expect(phases.filter(phase => phase === 'start')).toHaveLength(1)
    expect(phases).toContain('waiting')
    expect(events.filter(event => event.phase === 'download')).toHaveLength(2)
    expect(events.filter(event => event.phase === 'compile').at(-1)).toEqual({
      phase: 'compile',
      packages: 3,
      total: 3
    })
    expect(events.at(-1)?.phase).toBe('done')
    // The lock is gone and no half-written binary is left beside the result.
    expect((await fs.readdir(path.dirname(target))).sort()).toEqual(['ipfs', 'module'])
    expect(await fs.readdir(path.join(cacheDir, 'kubo'))).toEqual([`v${pinnedKubo().version}`])

    // A later call finds it in the cache.
    const again = await findKuboBinary({ ...options, build: false })
    expect(again.source).toBe('cache')
  })

  it('4. a caller waiting for another build goes on as soon as the lock is released, not at its next poll', async () => {
    const tools = await folder()
    const go = await fakeGo(tools, '1.99.0')
    const cacheDir = await folder()
    const target = path.join(cacheDir, 'kubo', `v${pinnedKubo().version}`, 'ipfs')
    // The "other builder" is this test process: alive, so the lock is not taken over.
    const lock = `${path.dirname(target)}.lock`
    await fs.mkdir(lock, { recursive: true })
    await fs.writeFile(path.join(lock, 'owner'), JSON.stringify({ pid: process.pid, host: os.hostname() }))
    let released: Promise<number> | undefined
    const events: KuboBuildProgress['phase'][] = []
    const found = await findKuboBinary({
      env: { PATH: '' },
      cacheDir,
      go,
      onProgress: event => {
        events.push(event.phase)
        if (event.phase !== 'waiting') return
        // The other builder finishes: its binary in place, then the lock removed.
        released = (async () => {
          await fs.mkdir(path.dirname(target), { recursive: true })
          await script(path.dirname(target), 'ipfs', `echo ${pinnedKubo().version}`)
          await fs.rm(lock, { recursive: true })
          return performance.now()
        })()
      }
    })
    const waited = performance.now() - (await (released ?? Promise.reject(new Error('never waited'))))
    expect(found).toEqual({ path: target, version: pinnedKubo().version, source: 'build' })
    expect(events).toEqual(['waiting'])
    await expect(fs.access(path.join(tools, 'builds'))).rejects.toThrow()
    // A poll alone would notice the release only ~BUILD_LOCK_POLL_INTERVAL (5 s) after it.
    expect(waited).toBeLessThan(BUILD_LOCK_POLL_INTERVAL / 2)
  })

  it('4. takes over a build lock left by a process that died', async () => {
    const tools = await folder()
    const go = await fakeGo(tools, '1.99.0')
    const cacheDir = await folder()
    const lock = path.join(cacheDir, 'kubo', `v${pinnedKubo().version}.lock`)
    await fs.mkdir(lock, { recursive: true })
    const dead = spawnSync(process.execPath, ['-e', '0']).pid
    await fs.writeFile(path.join(lock, 'owner'), JSON.stringify({ pid: dead, host: os.hostname() }))
    const found = await findKuboBinary({ env: { PATH: '' }, cacheDir, go, onProgress: () => {} })
    expect(found.source).toBe('build')
  })

  it('4. refuses a Go older than Kubo needs, and builds nothing', async () => {
    const tools = await folder()
    const go = await fakeGo(tools, '1.20.0')
    const error = await findKuboBinary({ env: { PATH: '' }, cacheDir: await folder(), go }).catch(
      (caught: unknown) => caught
    )
    expect((error as Error).name).toBe('KuboNotFoundError')
    expect((error as Error).message).toContain(
      `Go 1.20.0 is too old: Kubo v${pinnedKubo().version} needs Go >= ${pinnedKubo().goVersion}`
    )
    await expect(fs.access(path.join(tools, 'builds'))).rejects.toThrow()
  })

  it('5. says what was tried and how to install Kubo when nothing works', async () => {
    const bin = await folder()
    await script(bin, 'ipfs', 'echo 0.30.0')
    const cacheDir = await folder()
    const error = await findKuboBinary({ env: { PATH: bin }, cacheDir, go: path.join(bin, 'no-go') }).catch(
      (caught: unknown) => caught
    )
    expect((error as Error).name).toBe('KuboNotFoundError')
    const message = (error as Error).message
    expect(message).toContain(
      `${path.join(bin, 'ipfs')} is Kubo 0.30.0, outside the supported >=0.40.0 <1.0.0`
    )
    expect(message).toContain(
      `no Kubo v${pinnedKubo().version} in ${path.join(cacheDir, 'kubo', `v${pinnedKubo().version}`)}`
    )
    expect(message).toContain('Go is not installed')
    expect(message).toContain('set KUBO_BINARY')
    expect(message).toContain('pnpm kubo')
  })
  it('moduleDir: the Kubo another Go module pins, from its own cache folder; KUBO_BINARY and PATH are not consulted', async () => {
    const moduleDir = await folder()
    await fs.writeFile(
      path.join(moduleDir, 'go.mod'),
      'module example.com/old\n\ngo 1.25.0\n\nrequire github.com/ipfs/kubo v0.40.1\n'
    )
    await fs.writeFile(path.join(moduleDir, 'go.sum'), '')
    expect(pinnedKubo(moduleDir)).toEqual({ version: '0.40.1', goVersion: '1.25.0' })
    const tools = await folder()
    const go = await fakeGo(tools, '1.25.0', '0.40.1')
    const cacheDir = await folder()
    // Both would win without moduleDir: KUBO_BINARY and a supported ipfs on PATH.
    const env = { KUBO_BINARY: real.path, PATH: path.dirname(real.path) }
    const options = { env, cacheDir, go, moduleDir, onProgress: () => {} }

    const built = await findKuboBinary(options)
    const target = path.join(cacheDir, 'kubo', 'v0.40.1', 'ipfs')
    expect(built).toEqual({ path: target, version: '0.40.1', source: 'build' })
    expect(spawnSync(target, ['version', '--number'], { encoding: 'utf8' }).stdout.trim()).toBe('0.40.1')
    expect(await fs.readFile(path.join(cacheDir, 'kubo', 'v0.40.1', 'module', 'go.mod'), 'utf8')).toContain(
      'kubo v0.40.1'
    )
    expect(await findKuboBinary({ ...options, build: false })).toEqual({ ...built, source: 'cache' })
    // The package's own pin is untouched: nothing was built for it.
    expect(await fs.readdir(path.join(cacheDir, 'kubo'))).toEqual(['v0.40.1'])
  })
})
