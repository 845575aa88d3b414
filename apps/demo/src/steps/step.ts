import { randomBytes } from 'node:crypto'
import type { Ipfs as KuboIpfs } from '@tk/api'
import type { Ipfs } from '@tk/interface'
import type { Output } from '../output.js'

/** One node as the tour uses it: an embedded node in this process, or a Kubo daemon. */
export interface DemoNode {
  /** How the output calls it: `A`, `B`, or `your node`. */
  readonly label: string
  /** The grouped API every step works from; the same on both modes. */
  readonly ipfs: Ipfs
  readonly peerId: string
  /**
   * The same node's @tk/api instance when it is a Kubo daemon: what a package that does not yet
   * run on the `Ipfs` interface takes (@tk/transmission's `ipfs`). Undefined on an embedded node.
   */
  readonly kubo?: KuboIpfs
}

/** What earlier steps hand to later ones. */
export interface Shared {
  /** The file published in the content step. */
  fileCid?: string
  /** The directory published in the content step. */
  directoryCid?: string
}

/** How the tour's nodes run: both embedded, both Kubo, one of each, or the user's own Kubo daemon. */
export type TourMode = 'embedded' | 'kubo' | 'mixed' | 'daemon'

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
  /**
   * What the step still needs to run on these nodes (e.g. a package that does not yet work on an
   * embedded node), or undefined when it can. A step that cannot is reported as skipped with
   * this reason, never as working.
   */
  missing?(context: Pick<StepContext, 'a' | 'b'>): string | undefined
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

/**
 * Why a step whose package still works through a Kubo client cannot run on these nodes, or
 * undefined when every node in `nodes` is a Kubo daemon.
 */
export function unlessKubo(nodes: ReadonlyArray<DemoNode | undefined>, reason: string): string | undefined {
  return nodes.every(node => node?.kubo != null) ? undefined : reason
}

/** The @tk/api instance of a node that `missing` checked is a Kubo daemon. */
export function kuboOf(node: DemoNode): NonNullable<DemoNode['kubo']> {
  if (node.kubo == null) throw new Error(`${node.label} is not a Kubo node`)
  return node.kubo
}

/** Until @tk/transmission runs on `ipfs.streams` (issue 15), it reaches peers only through Kubo's stream mounting. */
export const TRANSMISSION_NEEDS_KUBO =
  'needs @tk/transmission over ipfs.streams (issue 15) to run on an embedded node; today it runs between two Kubo nodes only'
