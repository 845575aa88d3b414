import type { Writable } from 'node:stream'
import { formatBytes, formatDuration, formatRate } from './format.js'

/** A stream we print to; `process.stdout` in real use, a collecting stream in tests. */
export type OutputStream = Writable & { isTTY?: boolean; columns?: number }

export interface OutputInit {
  /** Machine output: one JSON object per line and nothing else on the stream. */
  json?: boolean
  /** Default `process.stdout`. */
  stream?: OutputStream
  /** Where `NO_COLOR` and `FORCE_COLOR` are read; default `process.env`. */
  env?: NodeJS.ProcessEnv
}

export type Style = 'bold' | 'dim' | 'green' | 'red' | 'yellow' | 'cyan'

const ANSI: Record<Style, readonly [open: number, close: number]> = {
  bold: [1, 22],
  dim: [2, 22],
  green: [32, 39],
  red: [31, 39],
  yellow: [33, 39],
  cyan: [36, 39]
}

/** A cell of {@link Output.table}; the width is measured on `text`, so colours never break alignment. */
export interface Cell {
  text: string
  style?: Style
}

export interface ProgressUpdate {
  /** Bytes done so far. */
  bytes: number
  /** Bytes in all. */
  total: number
  /** Bytes per second. */
  rate: number
}

/** A redraw more often than this is invisible and costs a terminal write per chunk (ms). */
const REDRAW_INTERVAL = 100
const BAR_WIDTH = 24
/** A bar narrower than this says little; the numbers alone are shown instead. */
const MIN_BAR_WIDTH = 8
/** What is assumed of a terminal that does not say how wide it is. */
const DEFAULT_COLUMNS = 80
/** Without a terminal, progress is one plain line per quarter, readable in a CI log. */
const PLAIN_STEPS = [0.25, 0.5, 0.75, 1]

/**
 * Everything the app prints goes through here, so that one switch decides its shape: colours and a
 * live progress bar on a terminal, plain lines in CI logs and pipes, JSON lines with `--json`.
 */
export class Output {
  readonly json: boolean
  /** Whether the stream is a terminal (colours, a redrawn progress bar). */
  readonly interactive: boolean
  readonly #stream: OutputStream
  readonly #colors: boolean

  constructor(init: OutputInit = {}) {
    const env = init.env ?? process.env
    this.#stream = init.stream ?? process.stdout
    this.json = init.json ?? false
    this.interactive = this.#stream.isTTY === true && !this.json
    // https://no-color.org, and FORCE_COLOR for terminals that do not say they are one.
    const forced = env.FORCE_COLOR != null && env.FORCE_COLOR !== '0'
    this.#colors = !this.json && (forced || (this.interactive && env.NO_COLOR == null && env.TERM !== 'dumb'))
  }

  /** `text` in a colour or weight, when colours are on. */
  style(style: Style, text: string): string {
    if (!this.#colors || text === '') return text
    const [open, close] = ANSI[style]
    return `\u001b[${open}m${text}\u001b[${close}m`
  }

  /** A line as it is (not in JSON mode). */
  print(text = ''): void {
    if (!this.json) this.#stream.write(`${text}\n`)
  }

  /** The start of a section: a blank line, then the title. */
  heading(text: string): void {
    this.print()
    this.print(this.style('bold', `▶ ${text}`))
  }

  /** An indented line of detail under a heading. */
  line(text: string): void {
    this.print(`  ${text}`)
  }

  success(text: string): void {
    this.print(`  ${this.style('green', '✔')} ${text}`)
  }

  failure(text: string): void {
    this.print(`  ${this.style('red', '✖')} ${this.style('red', text)}`)
  }

  /** What to do about a failure. */
  advice(text: string): void {
    this.print(`    ${this.style('yellow', '→')} ${text}`)
  }

  /** One JSON object on a line of its own (only in JSON mode). */
  event(record: Record<string, unknown>): void {
    if (this.json) this.#stream.write(`${JSON.stringify(record)}\n`)
  }

  /** Rows under a header, each column as wide as its widest cell. */
  table(header: readonly string[], rows: readonly (readonly Cell[])[]): void {
    const widths = header.map((title, column) =>
      Math.max(title.length, ...rows.map(row => row[column]?.text.length ?? 0))
    )
    const last = header.length - 1
    const render = (cells: readonly Cell[]): string =>
      cells
        .map((cell, column) => {
          // The last column is not padded: trailing spaces inside colour codes would survive trimming.
          const padded = column === last ? cell.text : cell.text.padEnd(widths[column] ?? 0)
          return cell.style == null ? padded : this.style(cell.style, padded)
        })
        .join('  ')
    this.line(this.style('bold', render(header.map(text => ({ text })))))
    for (const row of rows) this.line(render(row))
  }

  /** A progress display for a transfer; call `update` as bytes move and `done` at the end. */
  progress(label: string): ProgressBar {
    return new ProgressBar(label, this, this.#stream)
  }
}

export class ProgressBar {
  readonly #label: string
  readonly #output: Output
  readonly #stream: OutputStream
  #lastDraw = 0
  #plainStep = 0
  #last: ProgressUpdate = { bytes: 0, total: 0, rate: 0 }
  #finished = false

  constructor(label: string, output: Output, stream: OutputStream) {
    this.#label = label
    this.#output = output
    this.#stream = stream
  }

  update(progress: ProgressUpdate): void {
    if (this.#finished || this.#output.json) return
    this.#last = progress
    const fraction = progress.total === 0 ? 1 : progress.bytes / progress.total
    if (this.#output.interactive) {
      const now = Date.now()
      if (now - this.#lastDraw < REDRAW_INTERVAL && fraction < 1) return
      this.#lastDraw = now
      this.#stream.write(`\r\u001b[2K${this.#render(progress, fraction)}`)
      return
    }
    while (this.#plainStep < PLAIN_STEPS.length && fraction >= (PLAIN_STEPS[this.#plainStep] ?? 1)) {
      this.#plainStep++
      this.#output.print(this.#render(progress, fraction))
    }
  }

  /** Ends the display: the bar's last state stays on screen, and later lines start below it. */
  done(): void {
    if (this.#finished || this.#output.json) return
    this.#finished = true
    if (this.#output.interactive && this.#lastDraw !== 0) {
      const fraction = this.#last.total === 0 ? 1 : this.#last.bytes / this.#last.total
      this.#stream.write(`\r\u001b[2K${this.#render(this.#last, fraction)}\n`)
    }
  }

  #render(progress: ProgressUpdate, fraction: number): string {
    const remaining =
      progress.rate > 0 ? ((progress.total - progress.bytes) / progress.rate) * 1000 : undefined
    const eta = remaining == null ? 'ETA –' : fraction >= 1 ? 'done' : `ETA ${formatDuration(remaining)}`
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
    const label = `  ${this.#label}`
    const numbers = ` ${percent}  ${formatBytes(progress.bytes)} of ${formatBytes(progress.total)}  ${formatRate(progress.rate)}  ${eta}`
    if (!this.#output.interactive) return `${label}${numbers}`
    // The line must fit the terminal: a wrapped line is not erased by the next redraw.
    const columns = this.#stream.columns ?? DEFAULT_COLUMNS
    const room = columns - 1 - label.length - numbers.length - 1
    if (room < MIN_BAR_WIDTH) return `${label}${numbers}`.slice(0, columns - 1)
    const width = Math.min(BAR_WIDTH, room)
    const filled = Math.round(fraction * width)
    const bar = `${this.#output.style('cyan', '█'.repeat(filled))}${this.#output.style('dim', '░'.repeat(width - filled))}`
    return `${label} ${bar}${numbers}`
  }
}
