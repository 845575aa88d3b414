import { describe, expect, it } from 'vitest'
import { createDagCommands } from '../src/commands/dag.js'
import { createObjectCommands, OBJECT_REMOVED_MESSAGE } from '../src/commands/object.js'
import { createRootCommands } from '../src/commands/root.js'
import { all, collect, useKuboNode } from './helpers.js'

const EMPTY_DIRECTORY = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'

const kubo = useKuboNode()
const { invoker } = kubo
const object = createObjectCommands(invoker)
const root = createRootCommands(invoker)

async function addTree(files: Record<string, string>): Promise<{ root: string; cids: Map<string, string> }> {
  const results = await all(
    root.addAll([
      { path: 'd' },
      ...Object.entries(files).map(([name, content]) => ({ path: `d/${name}`, content }))
    ])
  )
  const cids = new Map(results.map(result => [result.name, result.cid]))
  return { root: cids.get('d') ?? '', cids }
}

const text = async (path: string): Promise<string> => new TextDecoder().decode(await collect(root.cat(path)))

describe('object diff', () => {
  it('lists added, removed and modified links between two directories', async () => {
    const before = await addTree({ a: 'a1', b: 'b', same: 's' })
    const after = await addTree({ a: 'a2', c: 'c', same: 's' })
    const changes = await object.diff(before.root, after.root)
    expect(changes).toHaveLength(3)
    expect(changes).toEqual(
      expect.arrayContaining([
        { type: 'modify', path: 'a', before: before.cids.get('d/a'), after: after.cids.get('d/a') },
        { type: 'remove', path: 'b', before: before.cids.get('d/b') },
        { type: 'add', path: 'c', after: after.cids.get('d/c') }
      ])
    )
    expect(await object.diff(before.root, `/ipfs/${before.root}`)).toEqual([])
  })
})

describe('object patch', () => {
  it('addLink adds a link to a directory, with create for intermediate directories; rmLink removes it', async () => {
    const file = await root.add('patched content')
    const withFile = await object.patch.addLink(EMPTY_DIRECTORY, 'file.txt', file.cid)
    expect((await root.ls(withFile)).links.map(link => [link.name, link.cid])).toEqual([
      ['file.txt', file.cid]
    ])
    expect(await text(`${withFile}/file.txt`)).toBe('patched content')

    await expect(object.patch.addLink(EMPTY_DIRECTORY, 'x/y.txt', file.cid)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'no link by that name'
    })
    const nested = await object.patch.addLink(withFile, 'x/y.txt', file.cid, {
      create: true,
      cidBase: 'base32'
    })
    expect(nested).toMatch(/^bafy/)
    expect(await text(`/ipfs/${nested}/x/y.txt`)).toBe('patched content')
    expect((await root.ls(nested)).links.map(link => link.name)).toEqual(['file.txt', 'x'])

    expect(await object.patch.rmLink(withFile, 'file.txt')).toBe(EMPTY_DIRECTORY)
    await expect(object.patch.rmLink(withFile, 'missing')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'no link by that name'
    })
  })

  it('refuses to patch a UnixFS file unless allowNonUnixfs', async () => {
    const file = await root.add('a file')
    await expect(object.patch.addLink(file.cid, 'child', file.cid)).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage:
        'cannot add named links to a UnixFS File node, only Directory nodes support link addition at the dag-pb level (see https://specs.ipfs.tech/unixfs/)'
    })
    const forced = await object.patch.addLink(file.cid, 'child', file.cid, { allowNonUnixfs: true })
    const patched = (await createDagCommands(invoker).get(forced)) as {
      Links: Array<{ Name: string; Hash: { '/': string } }>
    }
    expect(patched.Links.map(link => [link.Name, link.Hash['/']])).toEqual([['child', file.cid]])
    expect(await object.patch.rmLink(forced, 'child', { allowNonUnixfs: true })).toBe(file.cid)
  })
})

describe('object commands removed from Kubo', () => {
  // Kubo 0.28 removed these; the methods remain and surface Kubo's own refusal.
  it.each([
    ['object/put', () => object.put('{"Data":"x"}')],
    ['object/stat', () => object.stat(EMPTY_DIRECTORY)],
    ['object/data', () => object.data(EMPTY_DIRECTORY)],
    ['object/get', () => object.get(EMPTY_DIRECTORY)],
    ['object/links', () => object.links(EMPTY_DIRECTORY)],
    ['object/new', () => object.new('unixfs-dir')],
    ['object/patch/append-data', () => object.patch.appendData(EMPTY_DIRECTORY, 'more')],
    ['object/patch/set-data', () => object.patch.setData(EMPTY_DIRECTORY, 'data')]
  ])('%s answers that it was removed', async (command, call) => {
    await expect(call()).rejects.toMatchObject({
      name: 'KuboRpcError',
      command,
      status: 500,
      kuboMessage: OBJECT_REMOVED_MESSAGE
    })
  })

  it('object/patch is only a parent: it runs nothing and answers 200 with no body', async () => {
    expect(await invoker.text('object/patch')).toBe('')
  })
})

describe('object bad input', () => {
  it('rejects bad CIDs and empty link names before any request', async () => {
    await expect(object.diff('nope', EMPTY_DIRECTORY)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'before'
    })
    await expect(object.diff(EMPTY_DIRECTORY, '')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'after'
    })
    await expect(object.patch.addLink(EMPTY_DIRECTORY, '', EMPTY_DIRECTORY)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'name'
    })
    await expect(object.patch.addLink(EMPTY_DIRECTORY, 'x', 'bad')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'target'
    })
    await expect(object.patch.rmLink('bad', 'x')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'root'
    })
    await expect(object.stat('bad')).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'cid' })
  })
})
