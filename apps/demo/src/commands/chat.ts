import readline from 'node:readline'
import { createIpfs, type Ipfs } from '@tk/api'
import type { ChatCommand } from '../args.js'
import { CHAT_PEER_WAIT } from '../constants.js'
import { errorMessage, shortPeerId } from '../format.js'
import type { Output } from '../output.js'
import { waitUntil } from '../wait.js'

/**
 * `tk-demo chat <topic>`: every line typed (or piped) is published on the topic; what others
 * publish is printed. Ends with the input (Ctrl-D) or Ctrl-C.
 */
export async function chat(command: ChatCommand, output: Output, signal: AbortSignal): Promise<number> {
  const { topic } = command
  await using ipfs = createIpfs({ api: command.api })
  const me = await ipfs.myId({ signal })
  await using _subscription = await ipfs.pubsubSubscribe(
    topic,
    message => {
      // Kubo hands a node its own messages too; the other side's are the ones to show.
      if (message.from === me) return
      const text = new TextDecoder().decode(message.data)
      output.line(`${output.style('cyan', shortPeerId(message.from))}: ${text}`)
      output.event({ type: 'message', from: message.from, text })
    },
    {
      signal,
      onError: error => output.line(output.style('yellow', `(subscription: ${errorMessage(error)})`))
    }
  )
  output.print(`Joined "${topic}" as ${output.style('bold', me)}`)
  output.print(output.style('dim', 'Type a line and press Enter to send it; Ctrl-D or Ctrl-C leaves.'))
  output.event({ type: 'joined', topic, peerId: me })

  const lines = readline.createInterface({ input: process.stdin, terminal: false })
  const stopReading = (): void => lines.close()
  signal.addEventListener('abort', stopReading, { once: true })
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue
      await publishWhenHeard(ipfs, topic, line, output, signal)
    }
  } catch (error) {
    // Ctrl-C is how chatting normally ends.
    if (!signal.aborted) throw error
  } finally {
    signal.removeEventListener('abort', stopReading)
    lines.close()
  }
  output.event({ type: 'left', topic })
  return 0
}

/**
 * Publishes `text`, first waiting a little for someone else on the topic: a message published
 * while no peer is known to share the topic reaches nobody.
 */
async function publishWhenHeard(
  ipfs: Ipfs,
  topic: string,
  text: string,
  output: Output,
  signal: AbortSignal
): Promise<void> {
  const hasPeers = async (): Promise<boolean> => (await ipfs.pubsubPeers(topic, { signal })).length > 0
  if (!(await hasPeers())) {
    output.line(
      output.style('dim', `(nobody else is on "${topic}" yet; waiting up to ${CHAT_PEER_WAIT / 1000} s)`)
    )
    await waitUntil(hasPeers, 'someone joining', CHAT_PEER_WAIT, signal).catch((error: unknown) => {
      if (signal.aborted) throw error
      output.line(output.style('dim', '(still nobody; sending anyway)'))
    })
  }
  await ipfs.pubsubPublish(topic, text, { signal })
  output.event({ type: 'sent', topic, text })
}
