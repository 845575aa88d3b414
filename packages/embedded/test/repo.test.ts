import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createEmbeddedIpfs } from '../src/index.js'
import { temporaryDirectory } from './helpers.js'

describe('the repo', () => {
  it('is refused to a second node while the first has it open, and free again once it closes', async () => {
    await using work = await temporaryDirectory('lock')
    const repo = path.join(work.path, 'node')
    const first = await createEmbeddedIpfs({ repo })
    const peerId = await first.peerId()
    const error = await createEmbeddedIpfs({ repo }).catch((caught: unknown) => caught)
    expect((error as Error).name).toBe('RepoLockedError')
    expect((error as { pid: number }).pid).toBe(process.pid)
    // The refused attempt did not take the lock from the node that holds it.
    expect(await fs.readFile(path.join(repo, 'repo.lock'), 'utf8')).toBe(String(process.pid))
    await first.close()
    await expect(fs.access(path.join(repo, 'repo.lock'))).rejects.toMatchObject({ code: 'ENOENT' })
    await using second = await createEmbeddedIpfs({ repo })
    expect(await second.peerId()).toBe(peerId)
  })

  it('takes over a lock left by a process that is gone', async () => {
    await using work = await temporaryDirectory('stale')
    const repo = path.join(work.path, 'node')
    await fs.mkdir(repo)
    const gone = spawnSync(process.execPath, ['-e', '0']).pid
    expect(gone).toBeGreaterThan(0)
    await fs.writeFile(path.join(repo, 'repo.lock'), String(gone))
    await using node = await createEmbeddedIpfs({ repo })
    expect(await fs.readFile(path.join(repo, 'repo.lock'), 'utf8')).toBe(String(process.pid))
    expect(await node.peerId()).toMatch(/^12D3Koo/)
  })

  it('a node that cannot start (a listen address it cannot use) says why and leaves the repo unlocked', async () => {
    await using work = await temporaryDirectory('bad-listen')
    const repo = path.join(work.path, 'node')
    const error = await createEmbeddedIpfs({ repo, listen: ['/ip4/192.0.2.1/tcp/0'] }).catch(
      (caught: unknown) => caught
    )
    expect((error as Error).name).toBe('EmbeddedStartError')
    expect((error as Error).message).toMatch(/did not start/)
    await expect(fs.access(path.join(repo, 'repo.lock'))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
