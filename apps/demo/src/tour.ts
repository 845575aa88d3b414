import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { raceSignal } from 'race-signal'
import { errorMessage } from './format.js'
import type { Output } from './output.js'
import { contactsStep } from './steps/contacts.js'
import { contentStep } from './steps/content.js'
import { fileTransferStep } from './steps/file-transfer.js'
import { ipnsStep } from './steps/ipns.js'
import { type DemoNodes, NODES_STEP, openNodes } from './steps/nodes.js'
import { pubsubChatStep } from './steps/pubsub-chat.js'
import type { Shared, Step, StepOutcome, TourMode } from './steps/step.js'
import { transmissionStep } from './steps/transmission.js'

/** The tour after step 1 (the nodes), in order. */
export const STEPS: readonly Step[] = [
  contentStep,
  ipnsStep,
  pubsubChatStep,
  transmissionStep,
  fileTransferStep,
  contactsStep
]

export type StepStatus = 'ok' | 'failed' | 'skipped'

/** How one step went; what the summary table and `--json` show. */
export interface StepRecord {
  number: number
  id: string
  name: string
  status: StepStatus
  /** How long it took (ms); 0 when skipped. */
  milliseconds: number
  /** What was shown, when it worked. */
  summary?: string
  /** Why it failed or was skipped. */
  reason?: string
  /** What to do about a failure. */
  advice?: string
  details?: Record<string, string | number | boolean>
}

export interface TourResult {
  records: StepRecord[]
  /** Steps left out because they need two nodes and the tour ran on the user's daemon. */
  leftOut: Step[]
  /** The whole tour, nodes started and stopped included (ms). */
  milliseconds: number
  /** Whether Ctrl-C cut it short. */
  interrupted: boolean
}

export interface TourOptions {
  /** Which nodes the tour runs on. */
  mode: TourMode
  /** The user's daemon, with mode `daemon`. */
  api: string | undefined
  /** Size of the transferred file (bytes). */
  fileSize: number
  output: Output
  signal: AbortSignal
}

/**
 * Runs every step, each on its own time limit. A failed step does not end the tour: it is
 * recorded, and the steps that need it are skipped with the reason. Whatever happens, what was
 * started (nodes, listeners, keys on the user's node, temp files) is gone when this returns.
 */
export async function runTour(options: TourOptions): Promise<TourResult> {
  const { output, signal } = options
  const started = Date.now()
  const total = STEPS.length + 1
  const records: StepRecord[] = []
  const finish = (record: StepRecord): void => {
    records.push(record)
    output.event({ type: 'step', ...record })
  }
  const singleNode = options.mode === 'daemon'
  const workDirectory = await fs.mkdtemp(path.join(os.tmpdir(), 'tk-demo-'))
  let nodes: DemoNodes | undefined
  try {
    output.heading(`1/${total}  ${NODES_STEP.title}`)
    const nodesStep = { ...NODES_STEP, hint: NODES_STEP.hints[options.mode] }
    finish(
      await attempt(1, nodesStep, undefined, output, signal, async () => {
        const opened = await openNodes(options.mode, options.api, output, signal)
        nodes = opened.nodes
        return opened.outcome
      })
    )
    const shared: Shared = {}
    const leftOut = singleNode ? STEPS.filter(step => step.requiresTwoNodes) : []
    for (const [index, step] of STEPS.entries()) {
      if (leftOut.includes(step)) continue
      const number = index + 2
      const skipped = { number, id: step.id, name: step.name, status: 'skipped', milliseconds: 0 } as const
      if (signal.aborted) {
        finish({ ...skipped, reason: 'interrupted (Ctrl-C)' })
        continue
      }
      output.heading(`${number}/${total}  ${step.title}`)
      const blocker = [NODES_STEP.id, ...step.needs]
        .map(id => records.find(record => record.id === id))
        .find(record => record?.status !== 'ok')
      const running = nodes
      if (running == null || blocker != null) {
        const reason = `needs step ${blocker?.number ?? 1} (${blocker?.name ?? NODES_STEP.name}), which did not work`
        output.line(output.style('yellow', `skipped: ${reason}`))
        finish({ ...skipped, reason })
        continue
      }
      finish(
        await attempt(number, step, step.timeout, output, signal, async (stepSignal, defer) =>
          step.run({
            a: running.a,
            b: running.b,
            output,
            signal: stepSignal,
            workDirectory,
            fileSize: options.fileSize,
            shared,
            defer
          })
        )
      )
    }
    return { records, leftOut, milliseconds: Date.now() - started, interrupted: signal.aborted }
  } finally {
    await nodes?.stop()
    await fs.rm(workDirectory, { recursive: true, force: true, maxRetries: 3 })
  }
}

/** Runs one step within its time limit, prints how it went and returns its record. */
async function attempt(
  number: number,
  step: Pick<Step, 'id' | 'name' | 'hint'>,
  timeout: number | undefined,
  output: Output,
  signal: AbortSignal,
  run: (stepSignal: AbortSignal, defer: (cleanup: () => Promise<unknown>) => void) => Promise<StepOutcome>
): Promise<StepRecord> {
  const stepSignal = timeout == null ? signal : AbortSignal.any([signal, AbortSignal.timeout(timeout)])
  const cleanups: Array<() => Promise<unknown>> = []
  const started = Date.now()
  const base = { number, id: step.id, name: step.name }
  let record: StepRecord
  try {
    const running = run(stepSignal, cleanup => cleanups.push(cleanup))
    // Once the step is cut off, how it ends no longer matters; unobserved, it would crash the process.
    running.catch(() => {})
    // Raced against the signal too, so that a call that ignores it cannot hold up the whole tour.
    const outcome = await raceSignal(running, stepSignal)
    record = { ...base, status: 'ok', milliseconds: Date.now() - started, ...outcome }
    output.success(outcome.summary)
  } catch (error) {
    const reason = describeFailure(error, signal, stepSignal, timeout)
    record = { ...base, status: 'failed', milliseconds: Date.now() - started, reason, advice: step.hint }
    output.failure(reason)
    if (!signal.aborted) output.advice(step.hint)
  }
  for (const cleanup of cleanups.reverse()) {
    await cleanup().catch((error: unknown) => {
      // Cleaning up is best effort: the step's result stands, and the nodes are stopped anyway.
      output.line(output.style('dim', `(cleaning up after ${step.name}: ${errorMessage(error)})`))
    })
  }
  return record
}

function describeFailure(
  error: unknown,
  signal: AbortSignal,
  stepSignal: AbortSignal,
  timeout: number | undefined
): string {
  if (signal.aborted) return 'interrupted (Ctrl-C)'
  if (stepSignal.aborted && timeout != null) return `took longer than its ${Math.round(timeout / 1000)} s`
  const name = error instanceof Error ? error.name : ''
  // The class name helps when searching for the error; plain `Error` says nothing.
  return name === '' || name === 'Error' ? errorMessage(error) : `${name}: ${errorMessage(error)}`
}
