import fs from 'node:fs/promises'
import path from 'node:path'
import { STEP_TIMEOUT } from '../constants.js'
import { CheckFailedError } from '../errors.js'
import type { Step } from './step.js'

/** The directory published in this step: a small album with a nested folder. */
const ALBUM: Record<string, string> = {
  'README.txt': 'An album published with tk.\n',
  'photos/beach.txt': 'Pretend this is a photo of a beach.\n',
  'photos/mountain.txt': 'Pretend this is a photo of a mountain.\n'
}

/** Step 2: publish a file and a directory on A; read and download them on B; and a reply from B to A. */
export const contentStep: Step = {
  id: 'content',
  name: 'Content',
  title: 'Content: publish a file and a directory, read and download them on the other node',
  needs: [],
  requiresTwoNodes: false,
  timeout: STEP_TIMEOUT,
  hint: 'B finds the content through A: check that the nodes are connected (step 1).',
  async run({ a, b, output, signal, workDirectory, shared, defer }) {
    // Against a single daemon, the node reads back what it published itself.
    const reader = b ?? a
    const text = `Hello from ${a.label} (${a.peerId}), ${new Date().toISOString()}\n`
    const fileCid = await a.ipfs.content.publish(new TextEncoder().encode(text), { signal })
    output.line(`${a.label} published a file:      ${fileCid}`)
    // On the user's own node, the demo's pins go when the tour ends (garbage collection takes the rest).
    if (b == null) defer(async () => await a.ipfs.content.unpin(fileCid))

    const album = path.join(workDirectory, 'album')
    for (const [name, content] of Object.entries(ALBUM)) {
      await fs.mkdir(path.dirname(path.join(album, name)), { recursive: true })
      await fs.writeFile(path.join(album, name), content)
    }
    const directoryCid = await a.ipfs.content.publish(album, { signal })
    output.line(`${a.label} published a directory: ${directoryCid} (${Object.keys(ALBUM).length} files)`)
    if (b == null) defer(async () => await a.ipfs.content.unpin(directoryCid))

    const read = new TextDecoder().decode(await reader.ipfs.content.read(fileCid, { signal }))
    if (read !== text)
      throw new CheckFailedError(`${reader.label} read "${read.trim()}" instead of "${text.trim()}"`)
    output.line(`${reader.label} read the file: "${read.trim()}"`)

    const destination = await reader.ipfs.content.download(
      directoryCid,
      path.join(workDirectory, 'downloaded-album'),
      { signal }
    )
    for (const [name, content] of Object.entries(ALBUM)) {
      const downloaded = await fs.readFile(path.join(destination, name), 'utf8')
      if (downloaded !== content) throw new CheckFailedError(`${name} downloaded by ${reader.label} differs`)
    }
    output.line(`${reader.label} downloaded the directory to ${destination}`)

    shared.fileCid = fileCid
    shared.directoryCid = directoryCid
    const details = { fileCid, fileText: text, directoryCid, readBy: reader.peerId }
    const summary = `${reader.label} got the file and the ${Object.keys(ALBUM).length} files of the directory, byte for byte`
    if (b == null) return { summary, details }

    // The other way too: with one embedded and one Kubo node, each serves content the other fetches.
    const reply = `Hello back from ${b.label} (${b.peerId}), ${new Date().toISOString()}\n`
    const replyCid = await b.ipfs.content.publish(new TextEncoder().encode(reply), { signal })
    output.line(`${b.label} published a reply:     ${replyCid}`)
    const readReply = new TextDecoder().decode(await a.ipfs.content.read(replyCid, { signal }))
    if (readReply !== reply)
      throw new CheckFailedError(`${a.label} read "${readReply.trim()}" instead of "${reply.trim()}"`)
    output.line(`${a.label} read the reply: "${readReply.trim()}"`)
    return {
      summary: `${summary}; ${a.label} got ${b.label}'s reply`,
      details: { ...details, replyCid, replyText: reply, replyReadBy: a.peerId }
    }
  }
}
