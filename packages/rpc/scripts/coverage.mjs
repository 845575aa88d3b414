#!/usr/bin/env node
// Compares the commands of a Kubo daemon with what @tk/rpc implements.
//   pnpm --filter @tk/rpc coverage                    a fresh testkit node (the pinned Kubo)
//   pnpm --filter @tk/rpc coverage -- --api <addr>    your own daemon (URL or multiaddr)
import { parseArgs } from 'node:util'
import { createKuboNode } from '@tk/testkit'
import { coverage } from '../dist/coverage.js'
import { createKuboClient } from '../dist/index.js'

const { values } = parseArgs({ options: { api: { type: 'string' } } })
const node = values.api == null ? await createKuboNode() : undefined
const client = createKuboClient(values.api ?? node.apiUrl)
try {
  const tree = await (await client.request('commands')).json()
  const version = await client.version()
  const report = coverage(client, tree)
  console.log(`Kubo ${version.version} at ${client.target}`)
  if (report.missing.length > 0) {
    console.log(`missing (${report.missing.length}):`)
    for (const path of report.missing) console.log(`  ${path}`)
  }
  console.log(`covered ${report.covered.length} of ${report.total} HTTP commands`)
  process.exitCode = report.missing.length === 0 ? 0 : 1
} finally {
  await client.close()
  await node?.stop()
}
