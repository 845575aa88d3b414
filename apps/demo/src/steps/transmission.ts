import { ARRIVAL_TIMEOUT, STEP_TIMEOUT } from '../constants.js'
import { CheckFailedError } from '../errors.js'
import { deferred, waitFor } from '../wait.js'
import { type Step, secondNode, TRANSMISSION_HINT, transmissionsOf, uniqueSuffix } from './step.js'

/** A's side of the conversation and B's scripted replies, turn by turn. */
const TURNS: ReadonlyArray<readonly [said: string, reply: string]> = [
  ['Can you send me the album?', 'Sure, it is on IPFS already.'],
  ['What is its CID?', 'Resolve my IPNS name, it always points at the latest.'],
  ['Got it, thanks!', 'Bye!']
]

/** Step 5: one data transmission A → B, then a conversation of a few turns over one stream. */
export const transmissionStep: Step = {
  id: 'transmission',
  name: 'Transmission',
  title: 'Transmission: data from A to B, and a conversation',
  needs: [],
  requiresTwoNodes: true,
  timeout: STEP_TIMEOUT,
  hint: TRANSMISSION_HINT,
  async run(context) {
    const { a, output, signal, defer } = context
    const b = secondNode(context)
    const { atA, atB } = transmissionsOf(a, b, defer)

    const inboxName = `tk-demo-inbox-${uniqueSuffix()}`
    const arrived = deferred<{ data: Uint8Array; peerId: string }>()
    const inbox = await atB.listenForTransmissions(
      inboxName,
      (data, peerId) => arrived.resolve({ data, peerId }),
      {
        signal
      }
    )
    defer(async () => await inbox.close())
    const text = `Hello B, this is A at ${new Date().toISOString()}`
    const started = Date.now()
    // Resolves once B has checked the SHA-256 of what it received.
    await atA.transmitData(text, b.peerId, inboxName, { signal })
    const message = await waitFor(arrived.promise, 'the message reaching B', ARRIVAL_TIMEOUT, signal)
    const received = new TextDecoder().decode(message.data)
    if (received !== text) throw new CheckFailedError(`B received "${received}" instead of "${text}"`)
    if (message.peerId !== a.peerId)
      throw new CheckFailedError(`B saw the message come from ${message.peerId}`)
    output.line(`A → B  "${text}" (${Date.now() - started} ms, SHA-256 checked by B, sender authenticated)`)

    const chatName = `tk-demo-chat-${uniqueSuffix()}`
    const chats = await atB.listenForConversations(
      chatName,
      async request => {
        const conversation = await request.join()
        let turn = 0
        for await (const _message of conversation) {
          await conversation.say(TURNS[turn]?.[1] ?? '…')
          turn++
        }
      },
      { signal }
    )
    defer(async () => await chats.close())
    const replies: string[] = []
    const conversation = await atA.startConversation('album', b.peerId, chatName, { signal })
    try {
      for (const [said, expected] of TURNS) {
        await conversation.say(said, { signal })
        output.line(`A: ${said}`)
        const reply = new TextDecoder().decode(
          await conversation.listen({ signal, timeout: ARRIVAL_TIMEOUT })
        )
        if (reply !== expected) throw new CheckFailedError(`B replied "${reply}" instead of "${expected}"`)
        replies.push(reply)
        output.line(`B: ${reply}`)
      }
    } finally {
      await conversation.close('done')
    }
    return {
      summary: `a message and a ${TURNS.length}-turn conversation, every byte checked`,
      details: {
        message: text,
        receivedFrom: message.peerId,
        turns: TURNS.length,
        // B's replies as A heard them, one a line.
        replies: replies.join('\n')
      }
    }
  }
}
