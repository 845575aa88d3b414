import { Writable } from 'node:stream'
import { stripVTControlCharacters } from 'node:util'
import { describe, expect, it } from 'vitest'
import { formatBytes, formatDuration, formatRate, shortPeerId } from '../src/format.js'
import { Output } from '../src/output.js'

/** A stream that keeps what is written, and says it is a terminal when asked to. */
function capture(
  isTTY: boolean,
  columns?: number
): { stream: Writable & { isTTY: boolean; columns?: number }; text: () => string } {
  let written = ''
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        written += chunk.toString()
        callback()
      }
    }),
    { isTTY, columns }
  )
  return { stream, text: () => written }
}

const MiB = 1024 * 1024

describe('Output', () => {
  it('prints plain lines without a terminal: no colours, no escape codes', () => {
    const { stream, text } = capture(false)
    const output = new Output({ stream, env: {} })
    output.heading('Step')
    output.success('worked')
    output.failure('broke')
    output.advice('try this')
    output.event({ type: 'ignored' })
    expect(text()).toBe('\n▶ Step\n  ✔ worked\n  ✖ broke\n    → try this\n')
  })

  it('colours on a terminal, unless NO_COLOR is set', () => {
    const terminal = capture(true)
    new Output({ stream: terminal.stream, env: {} }).success('worked')
    expect(terminal.text()).toBe('  \u001b[32m✔\u001b[39m worked\n')
    const noColor = capture(true)
    new Output({ stream: noColor.stream, env: { NO_COLOR: '1' } }).success('worked')
    expect(noColor.text()).toBe('  ✔ worked\n')
  })

  it('prints only JSON lines with json', () => {
    const { stream, text } = capture(true)
    const output = new Output({ stream, json: true, env: { FORCE_COLOR: '1' } })
    output.heading('Step')
    output.line('detail')
    output.progress('file').update({ bytes: 1, total: 2, rate: 1 })
    output.event({ type: 'step', id: 'content', status: 'ok' })
    expect(text()).toBe('{"type":"step","id":"content","status":"ok"}\n')
  })

  it('aligns table columns on the text, even when cells are coloured', () => {
    const { stream, text } = capture(true)
    const output = new Output({ stream, env: {} })
    output.table(
      ['step', 'result'],
      [
        [{ text: '1 Nodes' }, { text: 'ok', style: 'green' }],
        [{ text: '2 File transfer' }, { text: 'FAILED', style: 'red' }]
      ]
    )
    // Strip the colours: what is left must line up.
    const lines = stripVTControlCharacters(text()).split('\n')
    expect(lines).toEqual([
      '  step             result',
      '  1 Nodes          ok',
      '  2 File transfer  FAILED',
      ''
    ])
  })

  it('shows progress as one line per quarter without a terminal', () => {
    const { stream, text } = capture(false)
    const bar = new Output({ stream, env: {} }).progress('A → B')
    for (let bytes = 0; bytes <= 32 * MiB; bytes += 4 * MiB)
      bar.update({ bytes, total: 32 * MiB, rate: 16 * MiB })
    bar.done()
    expect(text().split('\n')).toEqual([
      '  A → B  25%  8.0 MiB of 32.0 MiB  16.0 MiB/s  ETA 1.5 s',
      '  A → B  50%  16.0 MiB of 32.0 MiB  16.0 MiB/s  ETA 1.0 s',
      '  A → B  75%  24.0 MiB of 32.0 MiB  16.0 MiB/s  ETA 500 ms',
      '  A → B 100%  32.0 MiB of 32.0 MiB  16.0 MiB/s  done',
      ''
    ])
  })

  it('redraws one line on a terminal and leaves the last state on screen', () => {
    const { stream, text } = capture(true)
    const bar = new Output({ stream, env: { NO_COLOR: '1' } }).progress('file')
    bar.update({ bytes: 0, total: 4 * MiB, rate: 0 })
    bar.update({ bytes: 4 * MiB, total: 4 * MiB, rate: 2 * MiB })
    bar.done()
    const frames = text()
      .split('\r\u001b[2K')
      .filter(frame => frame !== '')
    expect(frames[0]).toBe(`  file ${'░'.repeat(24)}   0%  0 B of 4.0 MiB  0 B/s  ETA –`)
    expect(frames.at(-1)).toBe(`  file ${'█'.repeat(24)} 100%  4.0 MiB of 4.0 MiB  2.0 MiB/s  done\n`)
    expect(text().endsWith('\n')).toBe(true)
  })

  it('keeps the bar within a narrow terminal, so that each redraw erases the last', () => {
    const { stream, text } = capture(true, 70)
    const bar = new Output({ stream, env: { NO_COLOR: '1' } }).progress('A → B')
    bar.update({ bytes: 16 * MiB, total: 32 * MiB, rate: 16 * MiB })
    const line = text().replace('\r\u001b[2K', '')
    expect(line).toBe(
      `  A → B ${'█'.repeat(6)}${'░'.repeat(5)}  50%  16.0 MiB of 32.0 MiB  16.0 MiB/s  ETA 1.0 s`
    )
    expect(line.length).toBe(69)

    const tiny = capture(true, 30)
    new Output({ stream: tiny.stream, env: { NO_COLOR: '1' } })
      .progress('A → B')
      .update({ bytes: 1, total: 2, rate: 1 })
    expect(tiny.text().replace('\r\u001b[2K', '')).toBe('  A → B  50%  1 B of 2 B  1 B')
  })
})

describe('formatting', () => {
  it('formats sizes, rates, durations and peer ids for people', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(32 * MiB), formatBytes(3 * 1024 * MiB)]).toEqual(
      ['512 B', '1.5 KiB', '32.0 MiB', '3.00 GiB']
    )
    expect(formatRate(1.5 * MiB)).toBe('1.5 MiB/s')
    expect([formatDuration(850), formatDuration(3_240), formatDuration(125_000)]).toEqual([
      '850 ms',
      '3.2 s',
      '2 min 5 s'
    ])
    expect(shortPeerId('12D3KooWRGHwJRCS33HULL1vym5rVWL15DNVhzW1xLD9PujZ9i2W')).toBe('12D3KooWRGHw…9i2W')
  })
})
