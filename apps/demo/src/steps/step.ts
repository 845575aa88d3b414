import { randomBytes } from 'node:crypto'
import type { Ipfs as KuboIpfs } from '@tk/api'
import type { Ipfs } from '@tk/interface'
import { createTransmission, type Transmission } from '@tk/transmission'
import type { Output } from '../output.js'

/** One node as the tour uses it: an embedded node in this process, or a Kubo daemon. */
export interface DemoNode {
  /** How the output calls it: `A`, `B`, or `your node`. */
  readonly label: string
  /** The grouped API every step works from; the same on both modes. */
  readonly ipfs: Ipfs
  readonly peerId: string
  /**
   * The same node's @tk/api instance when it is a Kubo daemon, for what only Kubo has (its
   * version, the backend in use). Undefined on an embedded node.
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
 * A @tk/transmission component on each node, over its `ipfs.streams`: Kubo's stream mounting or
 * the embedded node's libp2p streams, the same code on both. Closed when the step ends.
 */
export function transmissionsOf(
  a: DemoNode,
  b: DemoNode,
  defer: StepContext['defer']
): { atA: Transmission; atB: Transmission } {
  const atA = createTransmission({ streams: a.ipfs.streams })
  defer(async () => await atA.close())
  const atB = createTransmission({ streams: b.ipfs.streams })
  defer(async () => await atB.close())
  return { atA, atB }
}

export const TRANSMISSION_HINT =
  'On a Kubo node, transmissions ride on stream mounting: `ipfs config --json Experimental.Libp2pStreamMounting true`, then restart the daemon. An embedded node opens libp2p streams itself.'
