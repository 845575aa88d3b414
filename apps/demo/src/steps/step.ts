import { randomBytes } from 'node:crypto'
import type { Ipfs } from '@tk/api'
import type { Output } from '../output.js'

/** One Kubo node as the tour uses it. */
export interface DemoNode {
  /** How the output calls it: `A`, `B`, or `your node`. */
  readonly label: string
  readonly ipfs: Ipfs
  readonly peerId: string
}

/** What earlier steps hand to later ones. */
export interface Shared {
  /** The file published in the content step. */
  fileCid?: string
  /** The directory published in the content step. */
  directoryCid?: string
}

export interface StepContext {
  readonly a: DemoNode
  /** The second node; undefined when the tour runs on the user's own daemon. */
  readonly b: DemoNode | undefined
  readonly output: Output
  /** Aborts on Ctrl-C and when the step's time is up. */
  readonly signal: AbortSignal
  /** A temp folder of this run, deleted at the end. */
  readonly workDirectory: string
  /** Size of the file of the transfer step (bytes). */
  readonly fileSize: number
  readonly shared: Shared
  /**
   * Runs `cleanup` when the step ends (the last registered first), whether it worked or not:
   * listeners and subscriptions would otherwise outlive it, and keys would stay on the user's node.
   */
  defer(cleanup: () => Promise<unknown>): void
}

export interface StepOutcome {
  /** One line saying what was shown. */
  summary: string
  /** Facts for `--json` (CIDs, digests, sizes). */
  details?: Record<string, string | number | boolean>
}

export interface Step {
  /** Stable id for `--json` and for `needs`. */
  readonly id: string
  /** One or two words, for the summary table. */
  readonly name: string
  /** What the step shows, for its heading. */
  readonly title: string
  /** Steps that must have worked first; otherwise this one is skipped, saying why. */
  readonly needs: readonly string[]
  /** Skipped (not failed) against a single daemon. */
  readonly requiresTwoNodes: boolean
  /** How long the step may take (ms). */
  readonly timeout: number
  /** What to try when the step fails, besides what the error itself says. */
  readonly hint: string
  run(context: StepContext): Promise<StepOutcome>
}

/** The second node of a two-node step (the runner never runs those with one node). */
export function secondNode(context: StepContext): DemoNode {
  if (context.b == null) throw new Error('This step needs two nodes')
  return context.b
}

/** A short random suffix, so that names from two runs (or a crashed one) never collide on a node. */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex')
}
