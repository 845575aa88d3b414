/** One step of starting or connecting a node and how long it took. */
export interface KuboStep {
  /** e.g. `init`, `config`, `start`, `ready`; for connect: `dial`, `peers`, `routing`. */
  readonly name: string
  /** Milliseconds spent in it; for the step that was running when it failed, so far. */
  readonly ms: number
  /** False for the step that was running when it failed or timed out. */
  readonly finished: boolean
}

/**
 * Times consecutive steps, so that a slow start can say where the time went instead of only that
 * a timeout hit (a hook timeout in a test says nothing at all).
 */
export class StepClock {
  readonly #done: KuboStep[] = []
  #current: { name: string; started: number } | undefined

  /** Ends the running step, if any, and starts `name`. */
  begin(name: string): void {
    this.end()
    this.#current = { name, started: performance.now() }
  }

  /** Ends the running step. */
  end(): void {
    if (this.#current == null) return
    this.#done.push({
      name: this.#current.name,
      ms: performance.now() - this.#current.started,
      finished: true
    })
    this.#current = undefined
  }

  /** Every step so far, the running one last and unfinished. */
  get steps(): KuboStep[] {
    const current = this.#current
    return current == null
      ? [...this.#done]
      : [...this.#done, { name: current.name, ms: performance.now() - current.started, finished: false }]
  }
}

/** `init 0.4 s, config 0.0 s, start 58.2 s (unfinished)`. */
export function formatSteps(steps: readonly KuboStep[]): string {
  return steps
    .map(step => `${step.name} ${(step.ms / 1000).toFixed(1)} s${step.finished ? '' : ' (unfinished)'}`)
    .join(', ')
}
