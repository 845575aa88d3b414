import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Compiles this app (not the packages it uses: they are built by `pnpm build`, and compiling them
 * here could race someone working on them) so that the tests never run a stale dist/main.js.
 */
export default async function build(): Promise<void> {
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc')
  try {
    await promisify(execFile)(tsc, ['-p', 'tsconfig.json'], { cwd: root })
  } catch (error) {
    const { stdout = '' } = error as { stdout?: string }
    throw new Error(`Building apps/demo failed; run \`pnpm build\` at the repository root first.\n${stdout}`)
  }
}
