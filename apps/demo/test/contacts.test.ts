import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { jsonLines, runApp, temporaryDirectory } from './helpers.js'

const ALICE = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
const BOB = '12D3KooWGDMwwqrpcYKpKCgxuKT2NfqPqa94QnkbW6M7Ge5udoDw'

describe('tk-demo contacts, against a temp store (TK_CONTACTS)', () => {
  it('adds, lists and removes contacts, and the file holds what was said', async () => {
    await using directory = await temporaryDirectory()
    const file = path.join(directory.path, 'contacts.json')
    const env = { TK_CONTACTS: file }

    const empty = await runApp(['contacts', 'list'], { env })
    expect(empty.code).toBe(0)
    expect(empty.stdout).toContain(`No contacts yet in ${file}`)

    const added = await runApp(['contacts', 'add', ALICE, 'alice', '--address', '/ip4/192.0.2.7/tcp/4001'], {
      env
    })
    expect(added.code).toBe(0)
    expect(added.stdout).toContain(`Added "alice": ${ALICE}`)
    expect(added.stdout).toContain('/ip4/192.0.2.7/tcp/4001')
    const addedBob = await runApp(['contacts', 'add', BOB, 'bob', '--json'], { env })
    expect(jsonLines(addedBob.stdout)).toMatchObject([
      { type: 'contact-added', path: file, contact: { name: 'bob', peerId: BOB, addresses: [] } }
    ])

    const listed = await runApp(['contacts', 'list'], { env })
    expect(listed.code).toBe(0)
    const rows = listed.stdout.split('\n').filter(line => line.includes('12D3KooW'))
    expect(rows).toHaveLength(2)
    expect(rows[0]).toMatch(new RegExp(`^\\s+alice\\s+${ALICE}\\s+1\\s+never$`))
    expect(rows[1]).toMatch(new RegExp(`^\\s+bob\\s+${BOB}\\s+0\\s+never$`))

    const removed = await runApp(['contacts', 'remove', 'alice', '--json'], { env })
    expect(removed.code).toBe(0)
    expect(jsonLines(removed.stdout)).toMatchObject([{ type: 'contact-removed', contact: { name: 'alice' } }])

    const remaining = await runApp(['contacts', 'list', '--json'], { env })
    const [event] = jsonLines(remaining.stdout)
    expect(event).toMatchObject({ type: 'contacts', path: file })
    expect(((event?.contacts ?? []) as Array<{ name: string }>).map(contact => contact.name)).toEqual(['bob'])
  })

  it('refuses a taken name, an unknown contact and a bad peer id, saying why, with exit code 1', async () => {
    await using directory = await temporaryDirectory()
    const env = { TK_CONTACTS: path.join(directory.path, 'contacts.json') }
    expect((await runApp(['contacts', 'add', ALICE, 'alice'], { env })).code).toBe(0)

    const duplicate = await runApp(['contacts', 'add', BOB, 'alice'], { env })
    expect(duplicate.code).toBe(1)
    expect(duplicate.stderr).toContain('alice')
    const unknown = await runApp(['contacts', 'remove', 'carol'], { env })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('carol')
    const badPeer = await runApp(['contacts', 'add', 'not-a-peer-id', 'dave'], { env })
    expect(badPeer.code).toBe(1)
    expect(badPeer.stderr).toContain('peerId')
  })

  it('exits 2 with the usage on a bad command line, and 0 with --help', async () => {
    const bad = await runApp(['contacts', 'rename'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('Unknown action "rename"; use add, list or remove')
    expect(bad.stderr).toContain('tk-demo contacts add <peerId> <name>')
    const help = await runApp(['contacts', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('tk-demo contacts remove <name|peerId>')
  })
})
