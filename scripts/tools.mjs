// The repo's own tools under .tools/, installed through npm from the npm registry and never
// globally: a Node (the `node` npm package ships the real binary) for machines whose Node is too
// old, and pnpm. Used by bootstrap.mjs (npm test / demo / bench / kubo), env.mjs (a contributor's
// shell) and .ci/run (the suite on several Node versions). Needs only Node >= 20.19 with npm.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const toolsDir = path.join(root, '.tools')

/** The oldest Node tk supports: undici 8 (under @tk/rpc) needs 22.19. Same as every `engines`. */
export const MIN_NODE = '22.19.0'
/** The Node installed into .tools/ when the machine's is older than MIN_NODE: the newest LTS line. */
export const PINNED_NODE = '26.10.0'
/** What .ci/run tests on: the oldest supported Node and the newest LTS. */
export const CI_NODES = [MIN_NODE, PINNED_NODE]

/** Compares dotted versions numerically: <0, 0, >0. */
export function compareVersions(a, b) {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** The directory holding the `node` binary of a version installed into .tools/ (it may not exist). */
export function nodeBinDir(version) {
  return path.join(toolsDir, 'node', `v${version}`, 'node_modules', 'node', 'bin')
}

/** `binary --version` without a leading "v", or undefined when it does not run. */
function versionOf(binary, env = process.env) {
  if (path.isAbsolute(binary) && !existsSync(binary)) return undefined
  const result = spawnSync(binary, ['--version'], {
    env,
    encoding: 'utf8',
    shell: process.platform === 'win32'
  })
  return result.status === 0 ? result.stdout.trim().replace(/^v/, '') : undefined
}

function npmInstall(prefix, spec, log) {
  // A temporary prefix renamed into place, so an interrupted install is never taken for a good one.
  const temporary = `${prefix}.partial-${process.pid}`
  rmSync(temporary, { recursive: true, force: true })
  mkdirSync(temporary, { recursive: true })
  log(`Installing ${spec} into ${path.relative(root, prefix)}/ (once; later runs reuse it)`)
  const result = spawnSync(
    'npm',
    ['install', '--prefix', temporary, '--no-audit', '--no-fund', '--loglevel=error', spec],
    { cwd: temporary, stdio: ['ignore', 2, 2], shell: process.platform === 'win32' }
  )
  if (result.status !== 0) {
    rmSync(temporary, { recursive: true, force: true })
    throw new Error(`\`npm install ${spec}\` failed (exit code ${result.status}); see its output above`)
  }
  rmSync(prefix, { recursive: true, force: true })
  renameSync(temporary, prefix)
}

/**
 * Returns the path of Node `version` under .tools/, installing it from the npm registry the first
 * time. `log` receives one line when something is installed.
 */
export function ensureNode(version, log = console.log) {
  const binary = path.join(nodeBinDir(version), process.platform === 'win32' ? 'node.exe' : 'node')
  if (versionOf(binary) === version) return binary
  npmInstall(path.join(toolsDir, 'node', `v${version}`), `node@${version}`, log)
  const installed = versionOf(binary)
  if (installed !== version) {
    throw new Error(`node@${version} from npm gave ${binary} reporting ${installed ?? 'nothing'}`)
  }
  return binary
}

/** The pnpm version in package.json's `packageManager`. */
export function wantedPnpm() {
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  return manifest.packageManager.replace(/^pnpm@/, '')
}

/** The directory of pnpm under .tools/ (it may not exist). */
export function pnpmBinDir() {
  return path.join(toolsDir, 'pnpm', 'node_modules', '.bin')
}

/**
 * Returns the pnpm binary to use: the one on PATH when its major matches `packageManager`, else
 * that exact version installed into .tools/pnpm (corepack's and pnpm's own downloads fail their
 * signature checks on some machines; npm's do not). `env` is the environment to look up PATH in.
 */
export function ensurePnpm(env = process.env, log = console.log, { preferLocal = false } = {}) {
  const wanted = wantedPnpm()
  const onPath = preferLocal ? undefined : versionOf('pnpm', env)
  if (onPath?.split('.')[0] === wanted.split('.')[0]) return 'pnpm'
  const local = path.join(pnpmBinDir(), process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm')
  if (versionOf(local) !== wanted) npmInstall(path.join(toolsDir, 'pnpm'), `pnpm@${wanted}`, log)
  return local
}
