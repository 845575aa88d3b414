import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  createKuboCluster,
  createKuboNode,
  type KuboCluster,
  type KuboNode,
  type KuboNodeInit
} from '@tk/testkit'
import { afterAll, beforeAll } from 'vitest'
import { httpTransport } from '../src/http-transport.js'
import { Invoker } from '../src/invoker.js'
import type { Transport } from '../src/transport.js'

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return new Uint8Array(Buffer.concat(parts))
}

export async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = []
  for await (const item of items) result.push(item)
  return result
}

/**
 * Established TCP connections on this machine whose remote end is `port` on 127.0.0.1: the
 * client side of connections to a daemon's API (Linux only; /proc/net/tcp).
 */
export function openConnectionsTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const lines = readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1)
  return lines.filter(line => {
    const fields = line.trim().split(/\s+/)
    return fields[2] === `0100007F:${hexPort}` && fields[3] === '01'
  }).length
}

export async function waitFor(condition: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (condition()) return true
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  return condition()
}

/** Probes until `done` says yes or `ms` pass, and returns the last value for the test to assert on. */
export async function eventually<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 10_000
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (done(value) || Date.now() > deadline) return value
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** A Kubo node for the tests around it, and an Invoker over HTTP to it. */
export interface TestNode {
  /** The node; there once `beforeAll` has run. */
  readonly node: KuboNode
  /** Can be given to command groups at once: its requests go to the node once it has started. */
  readonly invoker: Invoker
}

/**
 * Starts a Kubo node before the tests of the file (or `describe` block) it is called in and stops
 * it after them, with an HTTP invoker to it: the set-up each command group's tests share.
 */
export function useKuboNode(init?: KuboNodeInit): TestNode {
  let node: KuboNode | undefined
  let transport: Transport | undefined
  const started = (): Transport => {
    if (transport == null) throw new Error('The test node starts in beforeAll: use it inside a test')
    return transport
  }
  const invoker = new Invoker({
    get target() {
      return started().target
    },
    request: async request => await started().request(request),
    close: async () => await transport?.close()
  })
  beforeAll(async () => {
    node = await createKuboNode(init)
    transport = httpTransport({ apiUrl: node.apiUrl })
  })
  afterAll(async () => {
    await transport?.close()
    await node?.stop()
  })
  return {
    get node() {
      if (node == null) throw new Error('The test node starts in beforeAll: use it inside a test')
      return node
    },
    invoker
  }
}

/** Commands on A and B, two connected nodes, and on C, a node connected to nobody. */
export interface TwoAndLonely<Commands> {
  a: Commands
  b: Commands
  c: Commands
}

/**
 * Starts two connected nodes (A and B, with `init.cluster`) and one connected to nobody (C, with
 * `init.lonely`) before the tests of the file (or `describe` block) it is called in, with
 * `commandsFor` on each; closes their invokers and stops the nodes after them. Read `a`, `b` and
 * `c` inside tests.
 */
export function useTwoAndLonely<Commands extends { invoker: Invoker }>(
  commandsFor: (node: KuboNode | undefined) => Commands,
  init: { cluster?: KuboNodeInit; lonely?: KuboNodeInit } = {}
): TwoAndLonely<Commands> {
  // Empty until beforeAll has run; no test can see it before then.
  const nodes = {} as Partial<TwoAndLonely<Commands>>
  let cluster: KuboCluster | undefined
  let lonely: KuboNode | undefined
  beforeAll(async () => {
    ;[cluster, lonely] = await Promise.all([createKuboCluster(2, init.cluster), createKuboNode(init.lonely)])
    nodes.a = commandsFor(cluster.nodes[0])
    nodes.b = commandsFor(cluster.nodes[1])
    nodes.c = commandsFor(lonely)
  })
  afterAll(async () => {
    await Promise.all(
      [nodes.a, nodes.b, nodes.c].map(async commands => await commands?.invoker.transport.close())
    )
    await Promise.all([cluster?.stop(), lonely?.stop()])
  })
  return nodes as TwoAndLonely<Commands>
}

/** The command groups `groups` builds, on an HTTP invoker to `node`; close `invoker.transport` after. */
export function commandsOn<Groups extends Record<string, (invoker: Invoker) => unknown>>(
  node: KuboNode | undefined,
  groups: Groups
): { node: KuboNode; invoker: Invoker } & { [Name in keyof Groups]: ReturnType<Groups[Name]> } {
  if (node == null) throw new Error('no node')
  const invoker = new Invoker(httpTransport({ apiUrl: node.apiUrl }))
  const built = Object.fromEntries(Object.entries(groups).map(([name, create]) => [name, create(invoker)]))
  return { node, invoker, ...built } as { node: KuboNode; invoker: Invoker } & {
    [Name in keyof Groups]: ReturnType<Groups[Name]>
  }
}
