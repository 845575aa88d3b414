import { describe, expect, it } from 'vitest'
import { HELP, parseCommandLine, UsageError } from '../src/args.js'

function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv)
  } catch (error) {
    if (error instanceof UsageError) return error
    throw error
  }
  throw new Error(`${argv.join(' ')} was accepted`)
}

describe('parseCommandLine', () => {
  it('runs the tour with no arguments, on two local nodes (no mode asked for) with a 32 MiB file', () => {
    expect(parseCommandLine([])).toEqual({
      command: 'demo',
      api: undefined,
      mode: undefined,
      json: false,
      fileSize: 32 * 1024 * 1024
    })
  })

  it('takes the tour options', () => {
    expect(parseCommandLine(['--api', '/ip4/127.0.0.1/tcp/5001', '--json', '--size', '8'])).toEqual({
      command: 'demo',
      api: '/ip4/127.0.0.1/tcp/5001',
      mode: undefined,
      json: true,
      fileSize: 8 * 1024 * 1024
    })
  })

  it('takes one of --embedded, --kubo and --mixed, and not beside --api', () => {
    expect(parseCommandLine(['--embedded'])).toMatchObject({ command: 'demo', mode: 'embedded' })
    expect(parseCommandLine(['--kubo', '--size', '4'])).toMatchObject({
      command: 'demo',
      mode: 'kubo',
      fileSize: 4 * 1024 * 1024
    })
    expect(parseCommandLine(['--json', '--mixed'])).toMatchObject({
      command: 'demo',
      mode: 'mixed',
      json: true
    })
    expect(usageError(['--kubo', '--mixed']).message).toBe('Choose one: --kubo or --mixed')
    expect(usageError(['--embedded', '--kubo', '--mixed']).message).toBe(
      'Choose one: --embedded or --kubo or --mixed'
    )
    const both = usageError(['--kubo', '--api', '/ip4/127.0.0.1/tcp/5001'])
    expect(both.message).toBe('--api runs the tour on your daemon, --kubo on nodes it starts: choose one')
    expect(both.help).toBe(HELP.demo)
    // The commands between machines talk to a daemon; the tour's modes are not theirs.
    expect(usageError(['receive', '--kubo']).message).toContain("Unknown option '--kubo'")
  })

  it('finds the command word after options, and an option value is never taken for it', () => {
    expect(parseCommandLine(['--json', 'send', 'hello', '12D3KooWpeer'])).toMatchObject({
      command: 'send',
      json: true,
      what: 'hello',
      to: '12D3KooWpeer',
      listenerName: 'inbox',
      forceText: false
    })
    expect(parseCommandLine(['--api', 'receive', 'receive'])).toMatchObject({
      command: 'receive',
      api: 'receive'
    })
  })

  it('parses receive with its defaults and options', () => {
    expect(parseCommandLine(['receive'])).toEqual({
      command: 'receive',
      api: undefined,
      json: false,
      listenerName: 'inbox',
      directory: '.',
      count: undefined
    })
    expect(
      parseCommandLine(['receive', '--name', 'drop', '--dir', './downloads', '--count', '2'])
    ).toMatchObject({
      listenerName: 'drop',
      directory: './downloads',
      count: 2
    })
  })

  it('parses send, chat and each contacts action', () => {
    expect(parseCommandLine(['send', 'a b c', 'alice', '--name', 'drop', '--text'])).toMatchObject({
      command: 'send',
      what: 'a b c',
      to: 'alice',
      listenerName: 'drop',
      forceText: true
    })
    expect(parseCommandLine(['chat', 'lobby'])).toMatchObject({ command: 'chat', topic: 'lobby' })
    expect(
      parseCommandLine([
        'contacts',
        'add',
        '12D3KooWpeer',
        'alice',
        '--address',
        '/ip4/1.2.3.4/tcp/1',
        '--address',
        '/ip4/5.6.7.8/tcp/2'
      ])
    ).toEqual({
      command: 'contacts',
      json: false,
      action: 'add',
      peerId: '12D3KooWpeer',
      contactName: 'alice',
      addresses: ['/ip4/1.2.3.4/tcp/1', '/ip4/5.6.7.8/tcp/2']
    })
    expect(parseCommandLine(['contacts', 'list', '--json'])).toEqual({
      command: 'contacts',
      json: true,
      action: 'list'
    })
    expect(parseCommandLine(['contacts', 'remove', 'alice'])).toMatchObject({
      action: 'remove',
      contact: 'alice'
    })
  })

  it('answers --help with the help of the command asked about', () => {
    expect(parseCommandLine(['--help'])).toEqual({ command: 'help', text: HELP.demo })
    expect(parseCommandLine(['send', '-h'])).toEqual({ command: 'help', text: HELP.send })
    expect(parseCommandLine(['contacts', '--help'])).toEqual({ command: 'help', text: HELP.contacts })
  })

  it('explains what is wrong, with the usage of the command', () => {
    const unknown = usageError(['receive', '--nmae', 'x'])
    expect(unknown.message).toBe("Unknown option '--nmae'")
    expect(unknown.help).toBe(HELP.receive)
    expect(usageError(['send', 'hello']).message).toBe('Missing <peerId|contact>')
    expect(usageError(['send', 'hello', 'there', 'bob']).message).toBe(
      'Unexpected argument "bob" (quote text that has spaces)'
    )
    expect(usageError(['--size', '0']).message).toBe('--size takes a whole number from 1 to 4096, got "0"')
    expect(usageError(['receive', '--count', 'many']).message).toContain('--count')
    expect(usageError(['contacts']).message).toBe('Say what to do: add, list or remove')
    expect(usageError(['contacts', 'rename', 'a', 'b']).message).toBe(
      'Unknown action "rename"; use add, list or remove'
    )
    expect(usageError(['contacts', 'list', '--address', '/ip4/1.2.3.4/tcp/1']).message).toBe(
      '--address goes with contacts add'
    )
    expect(usageError(['surprise']).message).toBe(
      'Unknown command "surprise"; the commands are receive, send, chat and contacts'
    )
    expect(usageError(['surprise']).help).toBe(HELP.demo)
  })
})
