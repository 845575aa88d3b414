import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'
import { KUBO_BINARY_VARIABLE } from './constants.js'
import { KuboBinaryNotFoundError } from './errors.js'

/** Where an `ipfs` candidate came from: the caller's `binary` option, `KUBO_BINARY`, or `PATH`. */
export type IpfsBinarySource = 'option' | 'env' | 'path'

export interface IpfsBinaryCandidate {
  /** Absolute path of the file. */
  readonly path: string
  readonly source: IpfsBinarySource
  /** How the user wrote it (the option's or the variable's value), for messages; the file name on PATH. */
  readonly given: string
}

export interface IpfsCandidatesOptions {
  /** An `ipfs` executable named by the caller; when given, nothing else is looked at. */
  binary?: string
  /** Where `KUBO_BINARY` and `PATH` are read; default `process.env`. */
  env?: NodeJS.ProcessEnv
}

/**
 * Where the `ipfs` executable may be, in the order tk looks: `binary` when given, else
 * `KUBO_BINARY` when set, else every executable `ipfs` on `PATH` (first one first, each once). A
 * named one (option or variable) is the only candidate and is returned whether or not it runs: the
 * user said which, so a broken one is an error for the caller to report, not a reason to pick another.
 */
export function ipfsCandidates(options: IpfsCandidatesOptions = {}): IpfsBinaryCandidate[] {
  const env = options.env ?? process.env
  if (options.binary != null && options.binary !== '') {
    return [{ path: path.resolve(options.binary), source: 'option', given: options.binary }]
  }
  const fromEnv = env[KUBO_BINARY_VARIABLE]
  if (fromEnv != null && fromEnv !== '') {
    return [{ path: path.resolve(fromEnv), source: 'env', given: fromEnv }]
  }
  const found: IpfsBinaryCandidate[] = []
  const names = process.platform === 'win32' ? ['ipfs.exe', 'ipfs.cmd'] : ['ipfs']
  for (const directory of (env.PATH ?? '').split(path.delimiter)) {
    if (directory === '') continue
    for (const name of names) {
      const file = path.resolve(directory, name)
      if (!found.some(candidate => candidate.path === file) && isExecutableFile(file)) {
        found.push({ path: file, source: 'path', given: name })
      }
    }
  }
  return found
}

/** Whether `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    // Missing or not executable: both mean "not this one".
    return false
  }
}

/**
 * The `ipfs` executable to run, without asking its version: `binary` when given, then
 * `KUBO_BINARY`, then the first `ipfs` on `PATH` (see {@link ipfsCandidates}). Throws
 * {@link KuboBinaryNotFoundError}, saying what was tried and how to get Kubo, when there is none or
 * the named one is not an executable file.
 */
export function findIpfsBinary(binary: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const [first] = ipfsCandidates({ binary, env })
  if (first == null) {
    throw new KuboBinaryNotFoundError([`${KUBO_BINARY_VARIABLE} (not set)`, 'ipfs on PATH (none)'])
  }
  if (first.source === 'path' || isExecutableFile(first.path)) return first.path
  throw new KuboBinaryNotFoundError([
    first.source === 'option'
      ? `binary option ${first.given} (not an executable file)`
      : `${KUBO_BINARY_VARIABLE}=${first.given} (not an executable file)`
  ])
}
