import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { openContacts } from '../src/index.js'
import { randomPeerId, tempDir } from './helpers.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const script = path.join(here, 'fixtures', 'add-contacts.mjs')
const PER_PROCESS = 200
// typescript's exports map offers its library only; bin/tsc sits beside lib/.
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript')), '..', 'bin', 'tsc')

interface Writer {
  ready: Promise<void>
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>
  go(): void
}

function startWriter(storePath: string, idsFile: string, prefix: string): Writer {
  const child = spawn(process.execPath, [script, storePath, idsFile, prefix], {
    cwd: path.join(here, '..'),
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>(resolve => {
    onReady = resolve
  })
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    if (stdout.includes('ready\n')) onReady()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>(resolve => {
    child.once('exit', code => {
      onReady()
      resolve({ code, stdout, stderr })
    })
  })
  return { ready, exited, go: () => child.stdin.end('go\n') }
}

describe('two processes writing one store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>

  beforeAll(async () => {
    // The child processes run the package as built, imported by its name as another program
    // would: build it from this src first (a no-op when it is up to date), so that the test
    // cannot pass on an old build.
    await promisify(execFile)(process.execPath, [tsc, '-b'], { cwd: path.join(here, '..'), timeout: 120_000 })
  })

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await dir[Symbol.asyncDispose]()
  })

  it(`keeps all ${2 * PER_PROCESS} contacts when each adds ${PER_PROCESS} at the same time`, async () => {
    const storePath = path.join(dir.path, 'contacts.json')
    const batches = [0, 1].map(() => Array.from({ length: PER_PROCESS }, () => randomPeerId()))
    const writers = await Promise.all(
      batches.map(async (ids, index) => {
        const idsFile = path.join(dir.path, `ids-${index}.json`)
        await fs.writeFile(idsFile, JSON.stringify(ids))
        return startWriter(storePath, idsFile, `process-${index}`)
      })
    )
    await Promise.all(writers.map(writer => writer.ready))
    for (const writer of writers) writer.go()
    const results = await Promise.all(writers.map(writer => writer.exited))
    for (const result of results) {
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(new RegExp(`done ${PER_PROCESS} in \\d+ ms`))
    }

    await using store = await openContacts({ path: storePath })
    const contacts = await store.listContacts()
    expect(contacts).toHaveLength(2 * PER_PROCESS)
    const expected = batches.flatMap((ids, process) =>
      ids.map((id, index) => [`process-${process}-${index}`, id])
    )
    expect(contacts.map(contact => [contact.name, contact.peerId]).sort()).toEqual(expected.sort())
    // Both processes released the lock and left no temp file.
    expect((await fs.readdir(dir.path)).sort()).toEqual(['contacts.json', 'ids-0.json', 'ids-1.json'])
  })
})
