import { type FSWatcher, readFileSync, watch } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { isExecutableFile } from '@tk/kubo-process'
import { BUILD_LOCK_POLL_INTERVAL, DEFAULT_BUILD_TIMEOUT, STALE_OWNERLESS_LOCK_AGE } from './constants.js'
import { KuboBuildError } from './errors.js'
import { exec, isProcessAlive } from './exec.js'
import { compareVersions, parseVersion } from './version.js'

/** The Go module that pins Kubo (`packages/testkit/kubo`); shipped with the package. */
export const KUBO_MODULE_DIR = fileURLToPath(new URL('../kubo/', import.meta.url))

const KUBO_MAIN_PACKAGE = 'github.com/ipfs/kubo/cmd/ipfs'

export interface PinnedKubo {
  /** Kubo's version without the `v`, e.g. `0.43.0`. */
  version: string
  /** The Go version the module asks for, e.g. `1.26.5`. */
  goVersion: string
}

/**
 * The Kubo version this package pins, read from `kubo/go.mod` (its single source); or the one
 * another Go module folder of the same shape pins (the repo's CI builds its oldest supported Kubo
 * from `kubo-oldest/`).
 */
export function pinnedKubo(moduleDir: string = KUBO_MODULE_DIR): PinnedKubo {
  const goModPath = path.join(moduleDir, 'go.mod')
  let goMod: string
  try {
    goMod = readFileSync(goModPath, 'utf8')
  } catch (error) {
    throw new KuboBuildError(`Cannot read ${goModPath}: ${(error as Error).message}`)
  }
  const version = /^\s*(?:require\s+)?github\.com\/ipfs\/kubo v(\d+\.\d+\.\d+)/m.exec(goMod)?.[1]
  const goVersion = /^go (\d+\.\d+(?:\.\d+)?)$/m.exec(goMod)?.[1]
  if (version == null || goVersion == null) {
    throw new KuboBuildError(`${goModPath} names no Kubo or Go version`)
  }
  return { version, goVersion }
}

export type KuboBuildProgress =
  | { phase: 'waiting'; ownerPid: number }
  | { phase: 'start'; version: string; goVersion: string }
  | { phase: 'download'; modules: number; module: string }
  | { phase: 'compile'; packages: number; total: number }
  | { phase: 'done'; path: string; durationMs: number }

export interface BuildKuboOptions {
  /** The folder that holds `kubo/<version>/ipfs`. */
  cacheDir: string
  /** The `go` command; default `go` from `env.PATH`. */
  go?: string
  env?: NodeJS.ProcessEnv
  onProgress?: (event: KuboBuildProgress) => void
  signal?: AbortSignal
  /** How long the build may take, including waiting for another process's build (ms). */
  timeout?: number
  /** The Go module folder that pins the Kubo to build; default this package's `kubo/`. */
  moduleDir?: string
}

/** Where the pinned Kubo lives in a cache folder. */
export function cachedKuboPath(cacheDir: string, version = pinnedKubo().version): string {
  return path.join(cacheDir, 'kubo', `v${version}`, process.platform === 'win32' ? 'ipfs.exe' : 'ipfs')
}

/**
 * Whether `go` can build the pinned Kubo: undefined when it can, otherwise why not (Go missing,
 * or older than Kubo's go.mod asks for; the toolchain is never downloaded).
 */
export async function checkGo(
  options: Pick<BuildKuboOptions, 'go' | 'env' | 'signal' | 'moduleDir'> = {}
): Promise<string | undefined> {
  const go = options.go ?? 'go'
  const { version, goVersion } = pinnedKubo(options.moduleDir)
  let result: Awaited<ReturnType<typeof exec>>
  try {
    result = await exec(go, ['env', 'GOVERSION'], { env: options.env, signal: options.signal })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return `Go is not installed (no \`${go}\` on PATH)`
    throw error
  }
  const found = result.stdout.trim().replace(/^go/, '')
  if (result.code !== 0 || parseVersion(found) == null) {
    return `\`${go} env GOVERSION\` failed: ${result.stderr.trim() || result.stdout.trim()}`
  }
  if (compareVersions(found, goVersion) < 0) {
    return `Go ${found} is too old: Kubo v${version} needs Go >= ${goVersion}`
  }
  return undefined
}

/**
 * Builds the pinned Kubo with Go from the Go module proxy into the cache and returns its path.
 * One build at a time per cache folder, across processes: others wait for it and reuse the result.
 */
export async function buildKubo(options: BuildKuboOptions): Promise<string> {
  const signal = AbortSignal.any([
    ...(options.signal == null ? [] : [options.signal]),
    AbortSignal.timeout(options.timeout ?? DEFAULT_BUILD_TIMEOUT)
  ])
  signal.throwIfAborted()
  const target = cachedKuboPath(options.cacheDir, pinnedKubo(options.moduleDir).version)
  const release = await acquireBuildLock(`${path.dirname(target)}.lock`, options, signal)
  try {
    if (isExecutableFile(target)) return target
    await compile(target, options, signal)
    return target
  } finally {
    await release()
  }
}

async function compile(target: string, options: BuildKuboOptions, signal: AbortSignal): Promise<void> {
  const moduleDir = options.moduleDir ?? KUBO_MODULE_DIR
  const { version, goVersion } = pinnedKubo(moduleDir)
  const started = Date.now()
  const go = options.go ?? 'go'
  const buildDir = path.join(path.dirname(target), 'module')
  await fs.mkdir(buildDir, { recursive: true })
  for (const file of ['go.mod', 'go.sum']) {
    await fs.copyFile(path.join(moduleDir, file), path.join(buildDir, file))
  }
  const base = options.env ?? process.env
  const env: NodeJS.ProcessEnv = {
    ...base,
    CGO_ENABLED: '0',
    // Never let Go fetch another toolchain: checkGo() already said whether this one is enough.
    GOTOOLCHAIN: 'local',
    GOFLAGS: `${base.GOFLAGS ?? ''} -mod=readonly`.trim()
  }
  options.onProgress?.({ phase: 'start', version, goVersion })

  let modules = 0
  const onDownload = (line: string): void => {
    const module = /^go: downloading (.+)$/.exec(line)?.[1]
    if (module != null) options.onProgress?.({ phase: 'download', modules: ++modules, module })
  }
  // `go list -deps` downloads exactly the modules the build needs and tells how many packages it has.
  const listed = await exec(go, ['list', '-deps', KUBO_MAIN_PACKAGE], {
    cwd: buildDir,
    env,
    signal,
    onStderrLine: onDownload
  })
  if (listed.code !== 0)
    throw new KuboBuildError(`Resolving Kubo v${version}'s modules failed:\n${tail(listed.stderr)}`)
  const total = listed.stdout.split('\n').filter(line => line.trim() !== '').length

  const temporary = `${target}.${process.pid}.tmp`
  let packages = 0
  const built = await exec(go, ['build', '-v', '-trimpath', '-o', temporary, KUBO_MAIN_PACKAGE], {
    cwd: buildDir,
    env,
    signal,
    onStderrLine: line => {
      if (/^[\w.-]+(\/[\w.~+-]+)*$/.test(line))
        options.onProgress?.({ phase: 'compile', packages: ++packages, total })
      else onDownload(line)
    }
  }).catch(async (error: unknown) => {
    await fs.rm(temporary, { force: true })
    throw error
  })
  if (built.code !== 0) {
    await fs.rm(temporary, { force: true })
    throw new KuboBuildError(`Building Kubo v${version} failed:\n${tail(built.stderr)}`)
  }
  const check = await exec(temporary, ['version', '--number'], { signal })
  if (check.stdout.trim() !== version) {
    await fs.rm(temporary, { force: true })
    throw new KuboBuildError(
      `The Kubo just built reports version "${check.stdout.trim()}", expected ${version}`
    )
  }
  // Rename last, so the cache never holds a half-written binary.
  await fs.rename(temporary, target)
  options.onProgress?.({ phase: 'done', path: target, durationMs: Date.now() - started })
}

async function acquireBuildLock(
  lockDir: string,
  options: BuildKuboOptions,
  signal: AbortSignal
): Promise<() => Promise<void>> {
  await fs.mkdir(path.dirname(lockDir), { recursive: true })
  const ownerFile = path.join(lockDir, 'owner')
  let reportedWaiting = false
  // Watched before the first look, so a release between a look and the wait still wakes us.
  const changes = watchFolder(path.dirname(lockDir))
  try {
    for (;;) {
      signal.throwIfAborted()
      try {
        await fs.mkdir(lockDir)
        await fs.writeFile(ownerFile, JSON.stringify({ pid: process.pid, host: os.hostname() }))
        return async () => {
          await fs.rm(lockDir, { recursive: true, force: true })
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const owner = await readLockOwner(ownerFile)
      const orphaned =
        owner == null
          ? await isOlderThan(lockDir, STALE_OWNERLESS_LOCK_AGE)
          : owner.host === os.hostname() && !isProcessAlive(owner.pid)
      if (orphaned) {
        // The builder died without releasing the lock: take it over.
        await fs.rm(lockDir, { recursive: true, force: true })
        continue
      }
      if (!reportedWaiting && owner != null) {
        options.onProgress?.({ phase: 'waiting', ownerPid: owner.pid })
        reportedWaiting = true
      }
      // The release (the lock folder going away) wakes us at once; the poll is for a builder that
      // dies, which nothing announces.
      await changes.next(BUILD_LOCK_POLL_INTERVAL, signal)
    }
  } finally {
    changes.close()
  }
}

interface FolderChanges {
  /** Resolves at the first change in the folder since the watch began or the last `next`, or after `ms`. */
  next(ms: number, signal: AbortSignal): Promise<void>
  close(): void
}

/** Watches a folder for entries that appear or go away; where it cannot, `next` is a plain poll. */
function watchFolder(dir: string): FolderChanges {
  let changed = false
  let wake: (() => void) | undefined
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dir, () => {
      changed = true
      wake?.()
    })
    watcher.on('error', () => {
      // Watching stopped (e.g. the folder was removed): the poll still wakes the waiter.
    })
  } catch {
    // No watching here (inotify limit, a file system without events): the poll alone wakes the waiter.
  }
  return {
    async next(ms, signal) {
      if (!changed) {
        const woken = new AbortController()
        wake = () => woken.abort()
        try {
          await sleep(ms, undefined, { signal: AbortSignal.any([signal, woken.signal]) })
        } catch (error) {
          signal.throwIfAborted()
          if (!woken.signal.aborted) throw error
        } finally {
          wake = undefined
        }
      }
      changed = false
    },
    close() {
      watcher?.close()
    }
  }
}

async function readLockOwner(ownerFile: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const owner = JSON.parse(await fs.readFile(ownerFile, 'utf8')) as { pid: number; host: string }
    return typeof owner.pid === 'number' ? owner : undefined
  } catch {
    // The owner is between mkdir and writeFile, or the lock just went away: look again next round.
    return undefined
  }
}

async function isOlderThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs > ms
  } catch {
    return false
  }
}

function tail(text: string, lines = 30): string {
  return text.trim().split('\n').slice(-lines).join('\n')
}
