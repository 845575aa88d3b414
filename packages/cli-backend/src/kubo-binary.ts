import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'
import { KuboBinaryNotFoundError } from './errors.js'

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    // Missing or not executable: both mean "not this one".
    return false
  }
}

/**
 * The `ipfs` executable to run, found as @tk/testkit finds it: `binary` when given, then
 * `KUBO_BINARY`, then `ipfs` on `PATH`. Throws {@link KuboBinaryNotFoundError} saying how to get Kubo.
 */
export function findIpfsBinary(binary: string | undefined, env: NodeJS.ProcessEnv): string {
  const tried: string[] = []
  if (binary != null && binary !== '') {
    const file = path.resolve(binary)
    if (isExecutableFile(file)) return file
    throw new KuboBinaryNotFoundError([`binary option ${binary} (not an executable file)`])
  }
  const fromEnv = env.KUBO_BINARY
  if (fromEnv != null && fromEnv !== '') {
    const file = path.resolve(fromEnv)
    if (isExecutableFile(file)) return file
    // The user named one: a broken one is an error, not a reason to pick another.
    throw new KuboBinaryNotFoundError([`KUBO_BINARY=${fromEnv} (not an executable file)`])
  }
  tried.push('KUBO_BINARY (not set)')
  const names = process.platform === 'win32' ? ['ipfs.exe', 'ipfs.cmd'] : ['ipfs']
  for (const directory of (env.PATH ?? '').split(path.delimiter)) {
    if (directory === '') continue
    for (const name of names) {
      const file = path.resolve(directory, name)
      if (isExecutableFile(file)) return file
    }
  }
  tried.push('ipfs on PATH (none)')
  throw new KuboBinaryNotFoundError(tried)
}
