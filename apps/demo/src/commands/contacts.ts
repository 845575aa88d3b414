import { openContacts } from '@tk/lns'
import type { ContactsCommand } from '../args.js'
import type { Output } from '../output.js'

/**
 * `tk-demo contacts add|list|remove`: the contacts file shared with every tk program
 * (`TK_CONTACTS`, else the user data folder). Needs no daemon.
 */
export async function contacts(
  command: ContactsCommand,
  output: Output,
  signal: AbortSignal
): Promise<number> {
  await using store = await openContacts({ signal })
  switch (command.action) {
    case 'add': {
      const contact = await store.addContact(command.peerId, command.contactName, {
        addresses: command.addresses,
        signal
      })
      output.success(`Added "${contact.name}": ${contact.peerId}`)
      for (const address of contact.addresses) output.line(`  ${address.multiaddr}`)
      output.line(output.style('dim', `in ${store.path}`))
      output.event({ type: 'contact-added', path: store.path, contact })
      return 0
    }
    case 'list': {
      const list = await store.listContacts({ signal })
      output.event({ type: 'contacts', path: store.path, contacts: list })
      if (list.length === 0) {
        output.print(`No contacts yet in ${store.path}.`)
        output.print('Add one: tk-demo contacts add <peerId> <name> [--address <multiaddr>]')
        return 0
      }
      output.table(
        ['name', 'peer id', 'addresses', 'last connected'],
        list.map(contact => {
          const lastSuccess = contact.addresses
            .map(address => address.lastSuccess?.getTime() ?? 0)
            .reduce((latest, time) => Math.max(latest, time), 0)
          return [
            { text: contact.name, style: 'bold' },
            { text: contact.peerId },
            { text: String(contact.addresses.length) },
            { text: lastSuccess === 0 ? 'never' : new Date(lastSuccess).toLocaleString() }
          ]
        })
      )
      output.line(output.style('dim', `in ${store.path}`))
      return 0
    }
    case 'remove': {
      const removed = await store.removeContact(command.contact, { signal })
      output.success(`Removed "${removed.name}" (${removed.peerId})`)
      output.event({ type: 'contact-removed', path: store.path, contact: removed })
      return 0
    }
  }
}
