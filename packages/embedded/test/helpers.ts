import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createIpfs } from '@tk/api'
import type { Ipfs } from '@tk/interface'
import { createKuboNode, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll } from 'vitest'
import { createEmbeddedIpfs } from '../src/index.js'

/** @tk/api over HTTP on a testkit Kubo node: the Kubo side of every interop test. */
export function openKubo(node: KuboNode) {
  return createIpfs({ backend: 'http', api: node.apiUrl })
}

export type KuboApi = ReturnType<typeof openKubo>

export interface KuboAndEmbedded {
  kuboNode: KuboNode
  /** @tk/api on `kuboNode`. */
  kubo: KuboApi
  embedded: Ipfs
  embeddedId: string
  /** Closes the embedded node and `kubo`, then stops the Kubo node. */
  stop(): Promise<void>
}

/** A testkit Kubo node and an embedded node connected to it: the two sides of an interop test. */
export async function startKuboAndEmbedded(): Promise<KuboAndEmbedded> {
  const kuboNode = await createKuboNode()
  const kubo = openKubo(kuboNode)
  let embedded: Ipfs | undefined
  const stop = async (): Promise<void> => {
    await embedded?.close()
    await kubo.close()
    await kuboNode.stop()
  }
  try {
    embedded = await createEmbeddedIpfs()
    const embeddedId = await embedded.peerId()
    await embedded.peers.connect(kuboNode.swarmAddrs[0] ?? '', { timeout: 10_000 })
    return { kuboNode, kubo, embedded, embeddedId, stop }
  } catch (error) {
    // Half started: nothing may outlive the failed set-up.
    await stop()
    throw error
  }
}

/**
 * {@link startKuboAndEmbedded} before the tests of the enclosing `describe`, stopped after them.
 * The fields are filled in when the tests run: read them inside a test, not at `describe` time.
 */
export function useKuboAndEmbedded(): KuboAndEmbedded {
  // Empty until beforeAll has run; no test can see it before then.
  const both = {} as KuboAndEmbedded
  beforeAll(async () => {
    Object.assign(both, await startKuboAndEmbedded())
  })
  afterAll(async () => {
    await both.stop?.()
  })
  return both
}

/** A temp directory removed by the returned `[Symbol.asyncDispose]`. */
export async function temporaryDirectory(label: string) {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), `tk-embedded-${label}-`))
  return {
    path: directory,
    [Symbol.asyncDispose]: async () => {
      await fs.rm(directory, { recursive: true, force: true })
    }
  }
}

/** A small tree: text files, a nested folder, an empty file and a file of several 256 KiB chunks. */
export async function makeTree(root: string, large: Uint8Array): Promise<void> {
  await fs.mkdir(path.join(root, 'nested', 'deeper'), { recursive: true })
  await fs.writeFile(path.join(root, 'hello.txt'), 'hello from a tree\n')
  await fs.writeFile(path.join(root, 'empty.txt'), '')
  await fs.writeFile(path.join(root, 'nested', 'note.md'), '# note\n')
  await fs.writeFile(path.join(root, 'nested', 'deeper', 'large.bin'), large)
}

/** Every file below `root` as `relative path → content`, for comparing two trees. */
export async function readTree(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const entry of await fs.readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const full = path.join(entry.parentPath, entry.name)
    files[path.relative(root, full)] = (await fs.readFile(full)).toString('base64')
  }
  return files
}

/** Polls `check` until it returns true; rejects with `what` after `ms`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
