import path from 'node:path'
import { ipfsCandidates, isExecutableFile } from '@tk/kubo-process'
import envPaths from 'env-paths'
import { MAX_KUBO_VERSION_EXCLUSIVE, MIN_KUBO_VERSION } from './constants.js'
import { KuboBinaryError, KuboNotFoundError } from './errors.js'
import { exec } from './exec.js'
import { buildKubo, cachedKuboPath, checkGo, type KuboBuildProgress, pinnedKubo } from './kubo-build.js'
import { compareVersions, parseVersion } from './version.js'

/** Where a Kubo binary came from, in the order they are tried. */
export type KuboBinarySource = 'env' | 'path' | 'cache' | 'build'

export interface KuboBinary {
  /** Absolute path of the `ipfs` executable. */
  path: string
  /** What `ipfs version --number` printed, e.g. `0.43.0`. */
  version: string
  source: KuboBinarySource
}

export interface FindKuboBinaryOptions {
  /** Where `KUBO_BINARY`, `PATH` and `TK_CACHE_DIR` are read; default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** The cache folder; default `TK_CACHE_DIR`, else the user cache dir (`~/.cache/tk` on Linux). */
  cacheDir?: string
  /** Build the pinned Kubo with Go when nothing else is found; default true. */
  build?: boolean
  /** The `go` command used to build; default `go` from PATH. */
  go?: string
  /** Build progress; default: short lines on stderr. Pass `() => {}` for silence. */
  onProgress?: (event: KuboBuildProgress) => void
  signal?: AbortSignal
  /** How long a build may take (ms). */
  timeout?: number
  /**
   * A Go module folder shaped like this package's `kubo/` that pins another Kubo: that version is
   * taken from the cache or built into it, and KUBO_BINARY and PATH are not consulted. The repo's CI
   * uses it for the oldest supported Kubo (`kubo-oldest/`).
   */
  moduleDir?: string
}

let memo: Promise<KuboBinary> | undefined

/**
 * Returns a Kubo binary, trying in order: `KUBO_BINARY`; `ipfs` on PATH when its version is
 * supported; the pinned version in the user cache dir; building the pinned version with Go into that
 * cache. Throws {@link KuboNotFoundError}, saying how to get Kubo, when none of these works.
 *
 * Called without `env` or `cacheDir`, the answer is remembered for the life of the process.
 */
export async function findKuboBinary(options: FindKuboBinaryOptions = {}): Promise<KuboBinary> {
  if (options.env != null || options.cacheDir != null || options.moduleDir != null)
    return await resolve(options)
  memo ??= resolve(options).catch((error: unknown) => {
    memo = undefined
    throw error
  })
  return await memo
}

/** The user cache folder tk keeps Kubo builds in. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.TK_CACHE_DIR
  if (override != null && override !== '') return path.resolve(override)
  return envPaths('tk', { suffix: '' }).cache
}

async function resolve(options: FindKuboBinaryOptions): Promise<KuboBinary> {
  const env = options.env ?? process.env
  const signal = options.signal
  const { version: pinnedVersion, goVersion } = pinnedKubo(options.moduleDir)
  const tried: string[] = []
  const fromModule = options.moduleDir != null

  // KUBO_BINARY, else every executable `ipfs` on PATH: the lookup @tk/cli-backend and @tk/api use too.
  const candidates = fromModule ? [] : ipfsCandidates({ env })

  // 1. KUBO_BINARY: the user said which one; a broken or too old one is an error, not a fall-through.
  const named = candidates.find(candidate => candidate.source === 'env')
  if (named != null) {
    const version = await kuboVersion(named.path, signal)
    if (version == null) {
      throw new KuboBinaryError(
        `KUBO_BINARY=${named.given} is not a working Kubo binary (\`${named.path} version --number\` failed). Point it at an \`ipfs\` executable, or unset it.`
      )
    }
    if (compareVersions(version, MIN_KUBO_VERSION) < 0) {
      throw new KuboBinaryError(
        `KUBO_BINARY=${named.given} is Kubo ${version}; tk needs Kubo >= ${MIN_KUBO_VERSION}. Unset KUBO_BINARY to use Kubo v${pinnedVersion}, built on demand.`
      )
    }
    return { path: named.path, version, source: 'env' }
  }

  // 2. ipfs on PATH, when its version is one we support.
  for (const { path: file } of candidates) {
    const version = await kuboVersion(file, signal)
    if (version != null && isSupported(version)) return { path: file, version, source: 'path' }
    tried.push(
      `${file} is ${version == null ? 'not a working Kubo' : `Kubo ${version}`}, outside the supported >=${MIN_KUBO_VERSION} <${MAX_KUBO_VERSION_EXCLUSIVE}`
    )
  }
  if (tried.length === 0 && !fromModule) tried.push('no `ipfs` on PATH')

  // 3. The pinned version in the cache.
  const cacheDir = options.cacheDir ?? defaultCacheDir(env)
  const cached = cachedKuboPath(cacheDir, pinnedVersion)
  if (isExecutableFile(cached)) {
    const version = await kuboVersion(cached, signal)
    if (version === pinnedVersion) return { path: cached, version, source: 'cache' }
    tried.push(`${cached} does not run as Kubo ${pinnedVersion}; delete it to rebuild`)
  } else {
    tried.push(`no Kubo v${pinnedVersion} in ${path.dirname(cached)}`)
  }

  // 4. Build the pinned version with Go.
  if (options.build !== false) {
    const goProblem = await checkGo({ go: options.go, env, signal, moduleDir: options.moduleDir })
    if (goProblem == null) {
      const built = await buildKubo({
        cacheDir,
        go: options.go,
        env,
        signal,
        timeout: options.timeout,
        moduleDir: options.moduleDir,
        onProgress: options.onProgress ?? printBuildProgress
      })
      return { path: built, version: pinnedVersion, source: 'build' }
    }
    tried.push(goProblem)
  } else {
    tried.push('building was turned off')
  }

  // 5. Nothing worked: say what was tried and what to do.
  throw new KuboNotFoundError(
    [
      'No usable Kubo (ipfs) binary was found. Tried:',
      ...tried.map(line => `  - ${line}`),
      'To fix it, do one of:',
      `  - install Go >= ${goVersion} (https://go.dev/dl/) and run \`pnpm kubo\`: it builds Kubo v${pinnedVersion} once into ${path.dirname(cached)}`,
      `  - install Kubo >= ${MIN_KUBO_VERSION} (https://docs.ipfs.tech/install/command-line/) and put \`ipfs\` on PATH`,
      '  - set KUBO_BINARY to the path of an `ipfs` executable'
    ].join('\n')
  )
}

function isSupported(version: string): boolean {
  return (
    compareVersions(version, MIN_KUBO_VERSION) >= 0 &&
    compareVersions(version, MAX_KUBO_VERSION_EXCLUSIVE) < 0
  )
}

/** `ipfs version --number`, or undefined when the file does not run as Kubo. */
async function kuboVersion(file: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const result = await exec(file, ['version', '--number'], {
      signal,
      env: { ...process.env, IPFS_TELEMETRY: 'off' }
    })
    const version = result.stdout.trim()
    return result.code === 0 && parseVersion(version) != null ? version : undefined
  } catch (error) {
    signal?.throwIfAborted()
    // ENOENT, EACCES, ENOEXEC: not something we can run, which is what undefined says.
    void error
    return undefined
  }
}

/** Writes build progress to stderr: a line per phase and, while compiling, every 10 %. */
export function printBuildProgress(event: KuboBuildProgress): void {
  switch (event.phase) {
    case 'waiting':
      process.stderr.write(
        `[kubo] another process (pid ${event.ownerPid}) is building Kubo; waiting for it\n`
      )
      break
    case 'start':
      process.stderr.write(
        `[kubo] building Kubo v${event.version} with Go (first time only; takes a few minutes)\n`
      )
      break
    case 'download':
      if (event.modules === 1 || event.modules % 50 === 0)
        process.stderr.write(`[kubo] downloading modules: ${event.modules}\n`)
      break
    case 'compile': {
      const step = Math.max(1, Math.round(event.total / 10))
      if (event.packages === 1 || event.packages % step === 0) {
        process.stderr.write(`[kubo] compiling: ${event.packages} packages (of at most ${event.total})\n`)
      }
      break
    }
    case 'done':
      process.stderr.write(`[kubo] built ${event.path} in ${Math.round(event.durationMs / 1000)} s\n`)
      break
  }
}
