import fs from 'node:fs/promises'
import path from 'node:path'
import { createIpfs } from '@tk/api'
import { listenForFileTransmissions, listenForTransmissions } from '@tk/transmission'
import { raceSignal } from 'race-signal'
import type { ReceiveCommand } from '../args.js'
import { fileListenerName } from '../constants.js'
import { errorMessage, formatBytes, shortPeerId } from '../format.js'
import type { Output, ProgressBar } from '../output.js'
import { deferred } from '../wait.js'

/**
 * `tk-demo receive`: prints this node's peer id, then every text and file that arrives, until
 * Ctrl-C (or `--count` transmissions).
 */
export async function receive(command: ReceiveCommand, output: Output, signal: AbortSignal): Promise<number> {
  const directory = path.resolve(command.directory)
  await fs.mkdir(directory, { recursive: true })
  await using ipfs = createIpfs({ api: command.api })
  const [peerId, addresses] = await Promise.all([ipfs.myId({ signal }), ipfs.myMultiaddrs({ signal })])

  let received = 0
  const enough = deferred<void>()
  const counted = (): void => {
    received++
    if (command.count != null && received >= command.count) enough.resolve()
  }
  const onError = (error: Error, from: string | undefined): void => {
    // A failed transmission is the sender's to retry; the listener keeps serving others.
    output.line(
      output.style('yellow', `A transmission from ${from ?? 'a peer'} failed: ${errorMessage(error)}`)
    )
    output.event({ type: 'error', from, error: errorMessage(error) })
  }

  await using _textListener = await listenForTransmissions(
    command.listenerName,
    (data, from) => {
      const text = new TextDecoder().decode(data)
      output.line(`${output.style('cyan', shortPeerId(from))}: ${text}`)
      output.event({ type: 'text', from, text, bytes: data.byteLength })
      counted()
    },
    { ipfs, onError, signal }
  )
  const bars = new Map<string, ProgressBar>()
  await using _fileListener = await listenForFileTransmissions(
    fileListenerName(command.listenerName),
    file => {
      bars.get(`${file.peerId} ${file.name}`)?.done()
      output.line(
        `${output.style('cyan', shortPeerId(file.peerId))} sent ${file.name} (${formatBytes(file.size)}), saved as ${file.path}`
      )
      output.event({ type: 'file', from: file.peerId, name: file.name, path: file.path, size: file.size })
      counted()
    },
    {
      ipfs,
      directory,
      onError,
      signal,
      onProgress: progress => {
        const key = `${progress.peerId} ${progress.name}`
        let bar = bars.get(key)
        if (bar == null) {
          bar = output.progress(`${progress.name} from ${shortPeerId(progress.peerId)}`)
          bars.set(key, bar)
        }
        bar.update(progress)
      }
    }
  )

  output.print(`Listening as ${output.style('bold', peerId)}`)
  for (const address of addresses) output.line(output.style('dim', address))
  output.print(
    `Text arrives on /x/${command.listenerName}, files on /x/${fileListenerName(command.listenerName)}`
  )
  output.print(`Files are saved in ${directory}`)
  output.print()
  output.print('From another terminal or machine:')
  output.line(`tk-demo send <file|text> ${peerId} --name ${command.listenerName}`)
  output.print(output.style('dim', 'Ctrl-C stops.'))
  output.event({
    type: 'listening',
    peerId,
    addresses,
    listenerName: command.listenerName,
    fileListenerName: fileListenerName(command.listenerName),
    directory
  })

  try {
    await raceSignal(enough.promise, signal)
  } catch (error) {
    // Ctrl-C is how receiving normally ends; the listeners close on the way out.
    if (!signal.aborted) throw error
  }
  return 0
}
