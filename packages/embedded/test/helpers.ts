import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createIpfs } from '@tk/api'
import type { KuboNode } from '@tk/testkit'

/** @tk/api over HTTP on a testkit Kubo node: the Kubo side of every interop test. */
export function openKubo(node: KuboNode) {
  return createIpfs({ backend: 'http', api: node.apiUrl })
}

export type KuboApi = ReturnType<typeof openKubo>

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
