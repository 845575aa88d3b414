import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { promisify } from 'node:util'
import { createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const packageDir = path.join(import.meta.dirname, '..')
// typescript's exports map offers its library only; bin/tsc sits beside lib/.
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript')), '..', 'bin', 'tsc')

describe('the default instance', () => {
  it('works in a three-line script against a running daemon, and the script exits by itself', async () => {
    // The script runs the package as built: build it from this src first (a no-op when it is up to
    // date), so that the test cannot pass on an old build.
    await run(process.execPath, [tsc, '-b'], { cwd: packageDir, timeout: 120_000 })
    await using node = await createKuboNode()
    // The README's three lines, run as a user would: a separate Node process that imports the
    // package by its name (through its exports map), the API from IPFS_API.
    const script = [
      `import { ipfs } from '@tk/api'`,
      `const cid = await ipfs.publish(new TextEncoder().encode('hello from a script'))`,
      'console.log(cid, ipfs.backend, new TextDecoder().decode(await ipfs.read(cid)))'
    ].join('\n')
    const started = Date.now()
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: packageDir,
      env: { ...process.env, IPFS_API: node.apiMultiaddr },
      timeout: 30_000
    })
    const [cid, backend, ...text] = stdout.trim().split(' ')
    expect(backend).toBe('http')
    expect(text.join(' ')).toBe('hello from a script')
    // The same bytes give the same CID on the node itself.
    await using check = (await import('../src/index.js')).createIpfs({ api: node.apiUrl })
    expect(await check.predictCid(new TextEncoder().encode('hello from a script'))).toBe(cid)
    // Pooled keep-alive connections must not hold the process open.
    expect(Date.now() - started).toBeLessThan(10_000)
  })
})
