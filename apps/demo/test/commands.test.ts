import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createIpfs, type Ipfs } from '@tk/api'
import { createKuboCluster, type KuboCluster, type KuboNode } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonLines, runApp, sha256, startApp, startReceiver, temporaryDirectory } from './helpers.js'

/** The subcommands between two testkit nodes, each side in a process of its own, as on two machines. */
describe('tk-demo receive, send and chat between two nodes', () => {
  let cluster: KuboCluster
  let a: KuboNode
  let b: KuboNode
  let ipfsA: Ipfs
  let ipfsB: Ipfs

  beforeAll(async () => {
    cluster = await createKuboCluster(2)
    const [first, second] = cluster.nodes
    if (first == null || second == null) throw new Error('expected two nodes')
    a = first
    b = second
    ipfsA = createIpfs({ api: a.apiMultiaddr })
    ipfsB = createIpfs({ api: b.apiMultiaddr })
  })

  afterAll(async () => {
    await Promise.all([ipfsA?.close(), ipfsB?.close()])
    await cluster?.stop()
  })

  it('receive prints its peer id; send delivers text and a file that arrive intact', async () => {
    await using directory = await temporaryDirectory()
    const downloads = path.join(directory.path, 'downloads')
    await using receiver = startReceiver(b.apiMultiaddr, downloads, 2)
    const listening = await receiver.nextEvent(event => event.type === 'listening')
    expect(listening).toMatchObject({
      peerId: b.peerId,
      listenerName: 'inbox',
      fileListenerName: 'inbox-files',
      directory: downloads
    })

    const text = await runApp(['send', 'hello from A', b.peerId, '--api', a.apiMultiaddr, '--json'])
    expect(text.code, text.stderr).toBe(0)
    expect(jsonLines(text.stdout)).toMatchObject([{ type: 'sent', kind: 'text', to: b.peerId, bytes: 12 }])
    expect(await receiver.nextEvent(event => event.type === 'text')).toMatchObject({
      from: a.peerId,
      text: 'hello from A',
      bytes: 12
    })

    const content = randomBytes(3 * 1024 * 1024 + 17)
    const file = path.join(directory.path, 'holiday photo.bin')
    await fs.writeFile(file, content)
    const sent = await runApp(['send', file, b.peerId, '--api', a.apiMultiaddr, '--json'])
    expect(sent.code, sent.stderr).toBe(0)
    expect(jsonLines(sent.stdout)).toMatchObject([
      { type: 'sent', kind: 'file', to: b.peerId, name: 'holiday photo.bin', bytes: content.byteLength }
    ])
    const arrived = await receiver.nextEvent(event => event.type === 'file')
    expect(arrived).toMatchObject({
      from: a.peerId,
      name: 'holiday photo.bin',
      path: path.join(downloads, 'holiday photo.bin'),
      size: content.byteLength
    })
    expect(sha256(await fs.readFile(path.join(downloads, 'holiday photo.bin')))).toBe(sha256(content))

    // Two transmissions were asked for with --count 2: receive ends by itself, and cleanly.
    expect(await receiver.exited()).toBe(0)
    expect((await ipfsB.listTunnels()).listeners).toEqual([])
  })

  it('send shows its progress as plain lines when its output is not a terminal', async () => {
    await using directory = await temporaryDirectory()
    await using receiver = startReceiver(b.apiMultiaddr, directory.path, 1)
    await receiver.nextEvent(event => event.type === 'listening')
    const file = path.join(directory.path, 'outgoing', 'data.bin')
    await fs.mkdir(path.dirname(file))
    await fs.writeFile(file, randomBytes(4 * 1024 * 1024))

    const sent = await runApp(['send', file, b.peerId, '--api', a.apiMultiaddr])
    expect(sent.code, sent.stderr).toBe(0)
    const lines = sent.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe(`Sending data.bin (4.0 MiB) to ${b.peerId.slice(0, 12)}…${b.peerId.slice(-4)}`)
    expect(
      lines.slice(1, 5).map(line => line.match(/^ {2}data\.bin\s+(\d+)% {2}(\S+ \S+) of 4\.0 MiB/)?.slice(1))
    ).toEqual([
      ['25', expect.any(String)],
      ['50', expect.any(String)],
      ['75', expect.any(String)],
      ['100', '4.0 MiB']
    ])
    expect(lines[5]).toMatch(/^ {2}✔ data\.bin arrived intact at 12D3KooW.+ in .+ \(.+\/s\)$/)
    expect(sent.stdout).not.toContain('\u001b[')
    expect(await receiver.exited()).toBe(0)
  })

  it('send takes a contact name and reconnects to the contact first', async () => {
    await using directory = await temporaryDirectory()
    const env = { TK_CONTACTS: path.join(directory.path, 'contacts.json') }
    const address = b.swarmAddrs[0] ?? ''
    const added = await runApp(['contacts', 'add', b.peerId, 'bob', '--address', address], { env })
    expect(added.code, added.stderr).toBe(0)
    await using receiver = startReceiver(b.apiMultiaddr, directory.path, 1)
    await receiver.nextEvent(event => event.type === 'listening')

    // A and B forget each other: only the address in the contact brings them back together.
    await ipfsA.client.swarm.disconnect(`/p2p/${b.peerId}`)
    await ipfsB.client.swarm.disconnect(`/p2p/${a.peerId}`)
    expect(await ipfsA.listPeers()).not.toContain(b.peerId)

    const sent = await runApp(['send', 'hi bob', 'bob', '--api', a.apiMultiaddr, '--json'], { env })
    expect(sent.code, sent.stderr).toBe(0)
    expect(jsonLines(sent.stdout)).toMatchObject([{ type: 'sent', kind: 'text', to: b.peerId }])
    expect(await receiver.nextEvent(event => event.type === 'text')).toMatchObject({
      from: a.peerId,
      text: 'hi bob'
    })
    expect(await ipfsA.listPeers()).toContain(b.peerId)
    const listed = jsonLines((await runApp(['contacts', 'list', '--json'], { env })).stdout)
    const [bob] = (listed[0]?.contacts ?? []) as Array<{ addresses: Array<{ successes: number }> }>
    expect(bob?.addresses[0]?.successes).toBe(1)
  })

  it('send says what to do when nobody listens under that name, with exit code 1', async () => {
    const sent = await runApp(['send', 'anyone?', b.peerId, '--name', 'nobody-here', '--api', a.apiMultiaddr])
    expect(sent.code).toBe(1)
    expect(sent.stdout).toContain('Is `tk-demo receive --name nobody-here` running on')
  })

  it('receive stops on Ctrl-C and leaves no listener on the node', async () => {
    await using receiver = startApp(['receive', '--api', b.apiMultiaddr, '--json', '--name', 'ctrl-c'])
    await receiver.nextEvent(event => event.type === 'listening')
    const protocols = (await ipfsB.listTunnels()).listeners.map(listener => listener.protocol).sort()
    expect(protocols).toEqual(['/x/ctrl-c', '/x/ctrl-c-files'])
    expect(await receiver.interrupt()).toBe(0)
    expect((await ipfsB.listTunnels()).listeners).toEqual([])
  })

  it('chat: lines piped into one side are printed on the other', async () => {
    const topic = `tk-demo-test-${randomBytes(3).toString('hex')}`
    await using listener = startApp(['chat', topic, '--api', b.apiMultiaddr, '--json'])
    expect(await listener.nextEvent(event => event.type === 'joined')).toMatchObject({
      topic,
      peerId: b.peerId
    })

    const speaker = await runApp(['chat', topic, '--api', a.apiMultiaddr, '--json'], {
      input: 'hello from A\n\nsecond line\n'
    })
    expect(speaker.code, speaker.stderr).toBe(0)
    expect(jsonLines(speaker.stdout).filter(event => event.type === 'sent')).toMatchObject([
      { text: 'hello from A' },
      { text: 'second line' }
    ])
    await listener.nextEvent(event => event.type === 'message' && event.text === 'second line')
    const heard = listener.events.filter(event => event.type === 'message')
    expect(heard).toEqual([
      { type: 'message', from: a.peerId, text: 'hello from A' },
      { type: 'message', from: a.peerId, text: 'second line' }
    ])
    expect(await listener.interrupt()).toBe(0)
  })
})
