import { IPNS_STEP_TIMEOUT } from '../constants.js'
import { CheckFailedError } from '../errors.js'
import { type Step, uniqueSuffix } from './step.js'

/** Step 3: an IPNS name on A, pointed at the file and then moved to the directory; B resolves it each time. */
export const ipnsStep: Step = {
  id: 'ipns',
  name: 'IPNS',
  title: 'IPNS: a name on one node, updated, resolved on the other',
  needs: ['content'],
  requiresTwoNodes: false,
  timeout: IPNS_STEP_TIMEOUT,
  hint: 'A publish goes through the DHT; a node with `Routing.Type: none` cannot publish or resolve IPNS names.',
  async run({ a, b, output, signal, shared, defer }) {
    const { fileCid, directoryCid } = shared
    if (fileCid == null || directoryCid == null) throw new Error('The content step left no CIDs')
    const reader = b ?? a
    const keyName = `tk-demo-${uniqueSuffix()}`
    const name = await a.ipfs.ipns.createKey(keyName, { signal })
    // The key is only for the tour; on the user's node it would stay in the keystore for good.
    defer(async () => await a.ipfs.ipns.deleteKey(keyName))
    output.line(`${a.label} made the key "${keyName}", whose name is /ipns/${name}`)

    await a.ipfs.ipns.publish(keyName, fileCid, { signal })
    output.line(`${a.label} pointed it at the file`)
    const first = await reader.ipfs.ipns.resolve(`/ipns/${name}`, { nocache: true, signal })
    if (first !== `/ipfs/${fileCid}`) throw new CheckFailedError(`${reader.label} resolved it to ${first}`)
    output.line(`${reader.label} resolved it: ${first}`)

    await a.ipfs.ipns.publish(keyName, directoryCid, { signal })
    output.line(`${a.label} updated it to the directory`)
    const second = await reader.ipfs.ipns.resolve(`/ipns/${name}`, { nocache: true, signal })
    if (second !== `/ipfs/${directoryCid}`) {
      throw new CheckFailedError(`${reader.label} still resolved it to ${second} after the update`)
    }
    output.line(`${reader.label} resolved it: ${second}`)
    return {
      summary: `${reader.label} followed /ipns/${name} from the file to the directory`,
      details: {
        name,
        firstResolved: first,
        resolved: second,
        publishedBy: a.peerId,
        resolvedBy: reader.peerId
      }
    }
  }
}
