import { ARRIVAL_TIMEOUT, STEP_TIMEOUT } from '../constants.js'
import { CheckFailedError } from '../errors.js'
import { waitUntil } from '../wait.js'
import { type DemoNode, type Step, secondNode, uniqueSuffix } from './step.js'

/** Who says what, in order. */
const LINES: ReadonlyArray<readonly ['A' | 'B', string]> = [
  ['A', 'Hi B, are you there?'],
  ['B', 'Hi A, loud and clear.'],
  ['A', 'Lunch at noon?'],
  ['B', 'Sure. The usual place?'],
  ['A', 'The usual place.'],
  ['B', 'See you there.']
]

/** Step 4: A and B chat on a pubsub topic; every line must reach the other side. */
export const pubsubChatStep: Step = {
  id: 'pubsub',
  name: 'Pubsub chat',
  title: 'Pubsub: a chat between the two nodes on a topic',
  needs: [],
  requiresTwoNodes: true,
  timeout: STEP_TIMEOUT,
  hint: 'Kubo needs pubsub on: `ipfs config --json Pubsub.Enabled true`, then restart the daemon.',
  async run(context) {
    const { a, output, signal, defer } = context
    const b = secondNode(context)
    const topic = `tk-demo-chat-${uniqueSuffix()}`
    const heard = new Map<DemoNode, string[]>([
      [a, []],
      [b, []]
    ])
    for (const node of [a, b]) {
      const subscription = await node.ipfs.pubsub.subscribe(
        topic,
        message => {
          // Kubo (and the embedded node, alike) also delivers a node's own messages to it; only the
          // other side's count, and the sender must be the other node.
          if (message.from === node.peerId) return
          const other = node === a ? b : a
          const text = new TextDecoder().decode(message.data)
          heard.get(node)?.push(message.from === other.peerId ? text : `(from ${message.from}) ${text}`)
        },
        { signal }
      )
      defer(async () => await subscription.close())
    }
    output.line(`A and B subscribed to "${topic}"`)
    // A message published before the nodes know of each other's subscription reaches nobody.
    await waitUntil(
      async () =>
        (await a.ipfs.pubsub.peers(topic, { signal })).includes(b.peerId) &&
        (await b.ipfs.pubsub.peers(topic, { signal })).includes(a.peerId),
      'A and B seeing each other on the topic',
      ARRIVAL_TIMEOUT,
      signal
    )

    for (const [speaker, text] of LINES) {
      const [from, to] = speaker === 'A' ? [a, b] : [b, a]
      const before = heard.get(to)?.length ?? 0
      await from.ipfs.pubsub.publish(topic, text, { signal })
      await waitUntil(
        async () => (heard.get(to)?.length ?? 0) > before,
        `${to.label} hearing "${text}"`,
        ARRIVAL_TIMEOUT,
        signal
      )
      const arrived = heard.get(to)?.at(-1)
      if (arrived !== text) throw new CheckFailedError(`${to.label} heard "${arrived}" instead of "${text}"`)
      output.line(`${from.label} → ${to.label}  ${text}`)
    }
    const perSide = LINES.length / 2
    return {
      summary: `${LINES.length} messages, ${perSide} each way, all received in order`,
      details: {
        topic,
        messages: LINES.length,
        // What each side heard, one message a line, for --json readers (and the tests).
        heardByA: heard.get(a)?.join('\n') ?? '',
        heardByB: heard.get(b)?.join('\n') ?? ''
      }
    }
  }
}
