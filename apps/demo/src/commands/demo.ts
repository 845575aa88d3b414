import type { DemoCommand } from '../args.js'
import { formatDuration } from '../format.js'
import type { Cell, Output } from '../output.js'
import type { TourMode } from '../steps/step.js'
import { runTour, STEPS, type StepRecord, type TourResult } from '../tour.js'

const STATUS_CELLS: Record<StepRecord['status'], Cell> = {
  ok: { text: 'ok', style: 'green' },
  failed: { text: 'FAILED', style: 'red' },
  skipped: { text: 'skipped', style: 'yellow' }
}

const BANNERS: Record<Exclude<TourMode, 'daemon'>, string> = {
  embedded: 'tk demo: two embedded IPFS nodes in this process, A and B, and what tk does with them.',
  kubo: 'tk demo: two fresh Kubo nodes on this machine, A and B, and what tk does with them.',
  mixed: 'tk demo: a fresh Kubo node (A) and an embedded node (B) on this machine, working together.'
}

/** The default command: the tour, then a summary. Exit code 0 only if every step worked. */
export async function demo(command: DemoCommand, output: Output, signal: AbortSignal): Promise<number> {
  // `--api`, else IPFS_API (unless a mode was asked for), means the user's daemon: the tour never
  // starts nodes next to one they chose.
  const fromEnvironment = process.env.IPFS_API === '' ? undefined : process.env.IPFS_API
  const api = command.api ?? (command.mode == null ? fromEnvironment : undefined)
  const mode: TourMode = api != null ? 'daemon' : (command.mode ?? 'embedded')
  output.print(
    output.style(
      'bold',
      mode === 'daemon' ? `tk demo: the steps that need one node, on your Kubo at ${api}.` : BANNERS[mode]
    )
  )
  output.print(
    output.style(
      'dim',
      mode === 'daemon'
        ? 'What it adds (two pins, an IPNS key) is removed at the end, also on Ctrl-C.'
        : 'Everything it starts is stopped at the end, also on Ctrl-C.'
    )
  )
  const result = await runTour({ mode, api, fileSize: command.fileSize, output, signal })
  printSummary(result, mode, output)
  const worked = result.records.every(record => record.status === 'ok')
  return worked ? 0 : result.interrupted ? 130 : 1
}

function printSummary(result: TourResult, mode: TourMode, output: Output): void {
  const { records } = result
  const total = STEPS.length + 1
  output.heading('Summary')
  output.table(
    ['step', 'result', 'time'],
    records.map(record => [
      { text: `${record.number}/${total} ${record.name}` },
      STATUS_CELLS[record.status],
      { text: record.status === 'skipped' ? '–' : formatDuration(record.milliseconds) }
    ])
  )
  output.print()
  if (result.leftOut.length > 0) {
    const names = result.leftOut.map(step => step.name).join(', ')
    output.line(`Not run on a single daemon: ${names}. Run tk-demo without --api (and IPFS_API) to see them.`)
  }
  const failed = records.filter(record => record.status !== 'ok')
  if (failed.length === 0) {
    output.success(`Everything worked: ${records.length} steps in ${formatDuration(result.milliseconds)}.`)
  } else {
    output.failure(`${failed.length} of ${records.length} steps did not work:`)
    for (const record of failed) {
      output.line(`  ${record.number} ${record.name}: ${record.reason ?? record.status}`)
      if (record.advice != null && !result.interrupted) output.advice(`  ${record.advice}`)
    }
  }
  output.event({
    type: 'summary',
    mode,
    ok: failed.length === 0,
    interrupted: result.interrupted,
    milliseconds: result.milliseconds,
    steps: records,
    leftOut: result.leftOut.map(step => step.id)
  })
}
