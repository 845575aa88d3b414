#!/usr/bin/env node
import { type Command, parseCommandLine, UsageError } from './args.js'
import { chat } from './commands/chat.js'
import { contacts } from './commands/contacts.js'
import { demo } from './commands/demo.js'
import { receive } from './commands/receive.js'
import { send } from './commands/send.js'
import { InterruptedError } from './errors.js'
import { errorMessage } from './format.js'
import { Output } from './output.js'

/** Exit codes: 0 worked, 1 failed, 2 bad command line, 130 interrupted (128 + SIGINT, as shells do). */
const EXIT_FAILURE = 1
const EXIT_USAGE = 2
const EXIT_INTERRUPTED = 130

async function run(
  command: Exclude<Command, { command: 'help' }>,
  output: Output,
  signal: AbortSignal
): Promise<number> {
  switch (command.command) {
    case 'demo':
      return await demo(command, output, signal)
    case 'receive':
      return await receive(command, output, signal)
    case 'send':
      return await send(command, output, signal)
    case 'chat':
      return await chat(command, output, signal)
    case 'contacts':
      return await contacts(command, output, signal)
  }
}

/** Runs the command line `argv` (without `node` and the script) and resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let command: Command
  try {
    command = parseCommandLine(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`${error.message}\n\n${error.help}\n`)
    return EXIT_USAGE
  }
  if (command.command === 'help') {
    process.stdout.write(`${command.text}\n`)
    return 0
  }

  const output = new Output({ json: command.json })
  const controller = new AbortController()
  let interrupts = 0
  const onInterrupt = (): void => {
    interrupts++
    // The first Ctrl-C lets the command stop what it started and report; a second one leaves now
    // (@tk/testkit still kills its daemons on the way out).
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED)
    process.stderr.write('\nStopping… (Ctrl-C again to quit at once)\n')
    controller.abort(new InterruptedError())
  }
  process.on('SIGINT', onInterrupt)
  process.on('SIGTERM', onInterrupt)
  try {
    return await run(command, output, controller.signal)
  } catch (error) {
    if (controller.signal.aborted) return EXIT_INTERRUPTED
    // The packages' errors say what went wrong and what to do; a stack trace would bury that.
    process.stderr.write(`${output.style('red', '✖')} ${errorMessage(error)}\n`)
    return EXIT_FAILURE
  } finally {
    process.off('SIGINT', onInterrupt)
    process.off('SIGTERM', onInterrupt)
  }
}

main(process.argv.slice(2)).then(
  code => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = EXIT_FAILURE
  }
)
