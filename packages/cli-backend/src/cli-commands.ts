/**
 * What the CLI transport knows about particular commands, one record per command: how its command
 * line differs from the request, where its output comes from and how to read it. A command without
 * a record runs as `ipfs <words> --<options> --enc=json -- <args>` and prints the JSON Kubo's HTTP
 * API would answer with.
 */

import { setTimeout as sleep } from 'node:timers/promises'
import type { OptionValue, RpcRequest, RpcResponse } from '@tk/rpc/transport'
import {
  addOutput,
  bandwidthOutput,
  blockRmOutput,
  cidFormatOutput,
  commandsOutput,
  filestoreLsOutput,
  filestoreVerifyOutput,
  lsOutput,
  type OutputContext
} from './cli-output.js'
import { PUBSUB_LIVE_POLL_INTERVAL, PUBSUB_SUBSCRIBE_GRACE } from './constants.js'

/** What a command's `live` check may use. */
export interface LiveContext {
  /** The call's positional arguments, as the CLI takes them. */
  args: readonly string[]
  /** Runs another command through the same transport (e.g. `pubsub ls`). */
  run: (request: RpcRequest) => Promise<RpcResponse>
  signal: AbortSignal
}

export interface CliCommand {
  /** Kubo runs it only in the CLI process, on the local repo (NoRemote): given `--api`, the CLI refuses it. */
  local?: boolean
  /**
   * Kubo has removed it; it only answers "removed, use …". It takes no arguments, so the CLI would
   * refuse any given ("expected 0 argument(s)") before Kubo could say so: they are left out.
   */
  removed?: boolean
  /** Options the command line needs whatever the caller asked (no progress bars, a table's columns). */
  options?: (options: Record<string, OptionValue>) => void
  /**
   * The CLI writes the output to a file (`--output`) where HTTP streams it: the file's name (with
   * the suffix Kubo would otherwise append). The transport reads it as it is written.
   */
  outputFile?: (options: Readonly<Record<string, OptionValue>>) => string
  /** Kubo's closing error for "some items failed, each reported in the output": not a failure of the call. */
  partialFailure?: string
  /** Results are reported on stderr too: all of it is kept. */
  resultsOnStderr?: boolean
  /**
   * The body may be a tree (directories, several files, names, modes): written to a temp folder and
   * given with `-r`. Other commands take one file, the body's first, through stdin.
   */
  bodyTree?: boolean
  /** The CLI prints text whatever `--enc` says: this reads it into the command's values. */
  values?: (chunks: AsyncIterable<Uint8Array>, context: OutputContext) => AsyncIterable<unknown>
  /**
   * For a command whose output may not start for a long time: called before the process starts,
   * it resolves with a wait that settles once the command is live (the response is handed out then).
   */
  live?: (context: LiveContext) => Promise<(signal: AbortSignal) => Promise<void>>
}

const noProgress = (options: Record<string, OptionValue>): void => {
  options.progress = false
}

const removed: CliCommand = { removed: true }

/** Whether Kubo lists `topic` among its subscriptions (`pubsub ls`, whose text output holds the topics as text). */
async function isListed(
  context: LiveContext,
  topic: string | undefined,
  signal: AbortSignal
): Promise<boolean> {
  const response = await context.run({ command: 'pubsub/ls', options: { enc: 'text' }, signal })
  return (await response.text()).split('\n').includes(topic ?? '')
}

export const CLI_COMMANDS: Readonly<Record<string, CliCommand>> = {
  add: { options: noProgress, values: addOutput, bodyTree: true },
  cat: { options: noProgress },
  ls: {
    options: options => {
      options.headers = false
      options.size = true
      options.long = undefined
    },
    values: (chunks, context) => lsOutput(chunks, context.args)
  },
  get: {
    options: options => {
      options.progress = false
      if (options.compress !== true) options.archive = true
    },
    // Kubo's CLI writes archives only with os.Create(<--output>) (Node's stdio pipes are sockets,
    // which it cannot open as /dev/stdout).
    outputFile: options => (options.compress === true ? 'out.tar.gz' : 'out.tar')
  },
  // The CLI writes the zip to a file (and prints `{"File": …}`) where HTTP streams it.
  'diag/profile': { outputFile: () => 'profile.zip' },
  'key/export': { local: true, outputFile: () => 'key' },
  'key/rotate': { local: true },
  'block/rm': { values: blockRmOutput, partialFailure: 'some blocks not removed', resultsOnStderr: true },
  'cid/format': {
    values: cidFormatOutput,
    partialFailure: 'errors while displaying some entries',
    resultsOnStderr: true
  },
  'cid/base32': {
    values: cidFormatOutput,
    partialFailure: 'errors while displaying some entries',
    resultsOnStderr: true
  },
  'stats/bw': { values: bandwidthOutput },
  commands: { values: commandsOutput },
  'filestore/ls': { values: filestoreLsOutput },
  'filestore/verify': { values: filestoreVerifyOutput, resultsOnStderr: true },
  'pubsub/sub': {
    // Over HTTP, Kubo answers once it has registered the subscription; `ipfs pubsub sub` prints
    // nothing until a message comes, so `pubsub ls` is the sign. When the topic is listed already
    // (another subscriber on this daemon), it cannot tell: the process gets the time to start and ask.
    live: async context => {
      const topic = context.args[0]
      const listedBefore = await isListed(context, topic, context.signal)
      return async signal => {
        if (listedBefore) {
          await sleep(PUBSUB_SUBSCRIBE_GRACE, undefined, { signal })
          return
        }
        while (!(await isListed(context, topic, signal))) {
          await sleep(PUBSUB_LIVE_POLL_INTERVAL, undefined, { signal })
        }
      }
    }
  },
  'object/data': removed,
  'object/get': removed,
  'object/links': removed,
  'object/new': removed,
  'object/put': removed,
  'object/stat': removed,
  'object/patch/append-data': removed,
  'object/patch/set-data': removed,
  'dht/findpeer': removed,
  'dht/findprovs': removed,
  'dht/get': removed,
  'dht/put': removed,
  'dht/provide': removed
}

const PLAIN: CliCommand = {}

/** The record for `command`; an empty one for commands that need nothing special. */
export function cliCommand(command: string): CliCommand {
  return Object.hasOwn(CLI_COMMANDS, command) ? (CLI_COMMANDS[command] ?? PLAIN) : PLAIN
}
