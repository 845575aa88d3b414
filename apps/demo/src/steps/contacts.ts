import path from 'node:path'
import { openContacts } from '@tk/lns'
import { ARRIVAL_TIMEOUT, STEP_TIMEOUT } from '../constants.js'
import { CheckFailedError } from '../errors.js'
import { count, formatDuration } from '../format.js'
import { waitUntil } from '../wait.js'
import { type DemoNode, type Step, secondNode } from './step.js'

const CONTACT_NAME = 'bob'

async function isConnected(from: DemoNode, to: DemoNode, signal: AbortSignal): Promise<boolean> {
  return (await from.ipfs.peers.list({ signal })).includes(to.peerId)
}

/** Step 7: A saves B as a contact, the two are disconnected, and A gets B back by name. */
export const contactsStep: Step = {
  id: 'contacts',
  name: 'Contacts',
  title: 'Contacts: save a peer by name, lose the connection, reconnect by name',
  needs: [],
  requiresTwoNodes: true,
  timeout: STEP_TIMEOUT,
  hint: 'Reconnecting uses the addresses B announced; a firewall between the nodes would stop it.',
  async run(context) {
    const { a, output, signal, workDirectory } = context
    const b = secondNode(context)
    // A store of its own in the temp folder: the tour never touches the user's contacts.
    await using contacts = await openContacts({
      path: path.join(workDirectory, 'contacts.json'),
      ipfs: a.ipfs,
      signal
    })
    const addresses = await b.ipfs.addresses({ signal })
    const contact = await contacts.addContact(b.peerId, CONTACT_NAME, { addresses, signal })
    output.line(
      `A saved B as "${contact.name}" with ${count(contact.addresses.length, 'address', 'addresses')} B announced`
    )

    // Both sides drop the connection (every one, whichever side opened it).
    await a.ipfs.peers.disconnect(b.peerId, { signal })
    await b.ipfs.peers.disconnect(a.peerId, { signal })
    await waitUntil(
      async () => !(await isConnected(a, b, signal)) && !(await isConnected(b, a, signal)),
      'A and B dropping their connection',
      ARRIVAL_TIMEOUT,
      signal
    )
    output.line('A and B disconnected; neither lists the other as a peer')

    const result = await contacts.ensureConnected(CONTACT_NAME, { signal })
    if (!(await isConnected(a, b, signal))) throw new CheckFailedError('A still lists no connection to B')
    const how =
      result.via === 'remembered-address'
        ? `through the remembered address ${result.address}`
        : result.via === 'routing'
          ? `through routing, at ${result.address}`
          : `but ${a.kubo == null ? 'the node' : 'Kubo'} had already redialled it`
    output.line(`A reconnected to "${CONTACT_NAME}" ${how} in ${formatDuration(result.ms)}`)
    return {
      summary: `"${CONTACT_NAME}" reconnected by name in ${formatDuration(result.ms)} (${result.via})`,
      details: {
        contact: CONTACT_NAME,
        peerId: contact.peerId,
        via: result.via,
        address: result.address,
        milliseconds: result.ms
      }
    }
  }
}
