import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { findIpfsBinary, ipfsCandidates, isExecutableFile, KuboBinaryNotFoundError } from '../src/index.js'

// The files here are empty shell scripts: what is under test is where we look, not Kubo.

const folders: string[] = []

async function folder(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-kubo-process-'))
  folders.push(dir)
  return dir
}

async function executable(dir: string, name = 'ipfs', mode = 0o755): Promise<string> {
  const file = path.join(dir, name)
  await fs.writeFile(file, '#!/bin/sh\n', { mode })
  return file
}

afterEach(async () => {
  await Promise.all(folders.splice(0).map(dir => fs.rm(dir, { recursive: true, force: true })))
})

describe('ipfsCandidates', () => {
  it('the binary option wins over KUBO_BINARY and PATH, and is the only candidate', async () => {
    const bin = await folder()
    await executable(bin)
    const named = path.join(bin, 'not-there')
    expect(
      ipfsCandidates({ binary: named, env: { KUBO_BINARY: path.join(bin, 'ipfs'), PATH: bin } })
    ).toEqual([{ path: named, source: 'option', given: named }])
  })

  it('KUBO_BINARY wins over PATH, resolved against the working folder, even when it is not executable', async () => {
    const bin = await folder()
    await executable(bin)
    expect(ipfsCandidates({ env: { KUBO_BINARY: 'relative/ipfs', PATH: bin } })).toEqual([
      { path: path.resolve('relative/ipfs'), source: 'env', given: 'relative/ipfs' }
    ])
  })

  it('an empty KUBO_BINARY or binary option counts as unset', async () => {
    const bin = await folder()
    const file = await executable(bin)
    expect(ipfsCandidates({ binary: '', env: { KUBO_BINARY: '', PATH: bin } })).toEqual([
      { path: file, source: 'path', given: 'ipfs' }
    ])
  })

  it('lists each executable ipfs on PATH once, in PATH order, skipping files that cannot run and folders', async () => {
    const [first, notExecutable, folderNamedIpfs, second] = await Promise.all([
      folder(),
      folder(),
      folder(),
      folder()
    ])
    await executable(first)
    await executable(notExecutable, 'ipfs', 0o644)
    await fs.mkdir(path.join(folderNamedIpfs, 'ipfs'))
    await executable(second)
    const PATH = ['', first, notExecutable, folderNamedIpfs, first, second].join(path.delimiter)
    expect(ipfsCandidates({ env: { PATH } }).map(candidate => candidate.path)).toEqual([
      path.join(first, 'ipfs'),
      path.join(second, 'ipfs')
    ])
    expect(isExecutableFile(path.join(notExecutable, 'ipfs'))).toBe(false)
    expect(isExecutableFile(path.join(folderNamedIpfs, 'ipfs'))).toBe(false)
  })
})

describe('findIpfsBinary', () => {
  it('returns the first candidate that is an executable file', async () => {
    const bin = await folder()
    const file = await executable(bin)
    expect(findIpfsBinary(undefined, { PATH: bin })).toBe(file)
    expect(findIpfsBinary(undefined, { KUBO_BINARY: file, PATH: '' })).toBe(file)
    expect(findIpfsBinary(file, { PATH: '' })).toBe(file)
  })

  it('refuses a named binary that is not an executable file instead of picking another, saying which', async () => {
    const bin = await folder()
    await executable(bin)
    const broken = await executable(bin, 'broken', 0o644)
    const fromEnv = catchError(() => findIpfsBinary(undefined, { KUBO_BINARY: broken, PATH: bin }))
    expect(fromEnv.name).toBe('KuboBinaryNotFoundError')
    expect((fromEnv as KuboBinaryNotFoundError).tried).toEqual([
      `KUBO_BINARY=${broken} (not an executable file)`
    ])
    const fromOption = catchError(() => findIpfsBinary('./missing/ipfs', { PATH: bin }))
    expect((fromOption as KuboBinaryNotFoundError).tried).toEqual([
      'binary option ./missing/ipfs (not an executable file)'
    ])
  })

  it('says what was tried and what to do when there is no ipfs at all', () => {
    const error = catchError(() => findIpfsBinary(undefined, { PATH: '/nonexistent' }))
    expect(error).toBeInstanceOf(KuboBinaryNotFoundError)
    expect((error as KuboBinaryNotFoundError).tried).toEqual(['KUBO_BINARY (not set)', 'ipfs on PATH (none)'])
    expect(error.message).toMatch(/Install Kubo .*put `ipfs` on PATH.*set KUBO_BINARY.*pnpm kubo/s)
  })
})

function catchError(run: () => unknown): Error {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}
