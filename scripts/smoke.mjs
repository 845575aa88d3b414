#!/usr/bin/env node
// The demo until apps/demo exists: two fresh local Kubo nodes, connected; a few bytes added on A
// are read back on B and compared.
import { createKuboCluster } from '@tk/testkit'

async function rpc(node, command, { args = [], body } = {}) {
  const url = new URL(`/api/v0/${command}`, node.apiUrl)
  for (const arg of args) url.searchParams.append('arg', arg)
  let form
  if (body != null) {
    form = new FormData()
    form.append('file', new Blob([body]), 'hello.txt')
  }
  const response = await fetch(url, { method: 'POST', body: form })
  if (!response.ok) throw new Error(`${command}: HTTP ${response.status} ${await response.text()}`)
  return response
}

async function demo(cluster, started) {
  const [a, b] = cluster.nodes
  console.log(`node A  ${a.peerId}\n        ${a.swarmAddrs.join('\n        ')}`)
  console.log(`node B  ${b.peerId}\n        ${b.swarmAddrs.join('\n        ')}`)
  console.log(`connected in ${Date.now() - started} ms`)

  const message = `hello from ${a.peerId} at ${new Date().toISOString()}`
  const added = await (await rpc(a, 'add', { body: new TextEncoder().encode(message) })).json()
  console.log(`added on A:   ${added.Hash} (${added.Size} bytes)`)
  const read = await (await rpc(b, 'cat', { args: [added.Hash] })).text()
  console.log(`read on B:    "${read}"`)
  if (read !== message) throw new Error('B read something else than A added')
  console.log(`✔ the bytes moved from A to B over IPFS (${Date.now() - started} ms in all)`)
}

const started = Date.now()
const cluster = await createKuboCluster(2)
// Plain try/finally: Node 20 does not parse `await using` in JavaScript (TypeScript compiles it away).
try {
  await demo(cluster, started)
} catch (error) {
  console.error(`✖ ${error.message}`)
  process.exitCode = 1
} finally {
  await cluster.stop()
}
