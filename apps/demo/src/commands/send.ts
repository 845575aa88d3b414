import fs from 'node:fs/promises'
import path from 'node:path'
import { createIpfs } from '@tk/api'
import { openContacts } from '@tk/lns'
import { transmitData, transmitFile } from '@tk/transmission'
import type { SendCommand } from '../args.js'
import { fileListenerName } from '../constants.js'
import { errorMessage, formatBytes, formatDuration, formatRate, shortPeerId } from '../format.js'
import type { Output } from '../output.js'

/**
 * `tk-demo send`: a file (with a progress bar) or text to a peer running `tk-demo receive`, by peer
 * id or contact name. Exits 0 only once the receiver confirmed the SHA-256 of what it got.
 */
export async function send(command: SendCommand, output: Output, signal: AbortSignal): Promise<number> {
  await using ipfs = createIpfs({ api: command.api })
  // With the contacts store, `to` may be a contact's name; a contact is reconnected first.
  await using contacts = await openContacts({ client: ipfs.client, signal })
  const contact = await contacts.getContact(command.to, { signal })
  const peerId = contact?.peerId ?? command.to
  const recipient =
    contact == null ? shortPeerId(command.to) : `${contact.name} (${shortPeerId(contact.peerId)})`
  const stat = command.forceText ? undefined : await fs.stat(command.what).catch(() => undefined)
  const started = Date.now()
  try {
    if (stat?.isFile() === true) {
      const name = path.basename(command.what)
      output.print(`Sending ${name} (${formatBytes(stat.size)}) to ${recipient}`)
      const bar = output.progress(name)
      try {
        await transmitFile(command.what, command.to, fileListenerName(command.listenerName), {
          ipfs,
          contacts,
          signal,
          onProgress: progress => bar.update(progress)
        })
      } finally {
        bar.done()
      }
      const elapsed = Date.now() - started
      const rate = formatRate(stat.size / Math.max(elapsed / 1000, 0.001))
      output.success(`${name} arrived intact at ${recipient} in ${formatDuration(elapsed)} (${rate})`)
      output.event({ type: 'sent', kind: 'file', to: peerId, name, bytes: stat.size, milliseconds: elapsed })
    } else {
      const bytes = new TextEncoder().encode(command.what)
      await transmitData(bytes, command.to, command.listenerName, { ipfs, contacts, signal })
      const elapsed = Date.now() - started
      output.success(`Your text arrived intact at ${recipient} in ${formatDuration(elapsed)}`)
      output.event({ type: 'sent', kind: 'text', to: peerId, bytes: bytes.byteLength, milliseconds: elapsed })
    }
    return 0
  } catch (error) {
    // A closed stream usually means nobody listens under that name; other errors explain themselves.
    if (signal.aborted || !(error instanceof Error) || error.name !== 'StreamClosedError') throw error
    output.failure(errorMessage(error))
    output.advice(`Is \`tk-demo receive --name ${command.listenerName}\` running on ${recipient}?`)
    output.event({ type: 'error', to: peerId, error: errorMessage(error) })
    return 1
  }
}
