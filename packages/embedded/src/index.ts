/**
 * @packageDocumentation
 *
 * An IPFS node inside your Node.js process (Helia with a minimal js-libp2p), behind the same
 * grouped API as a Kubo daemon (@tk/interface). Nothing to install besides npm packages.
 *
 * @example
 *
 * ```ts
 * import { createEmbeddedIpfs } from '@tk/embedded'
 *
 * await using ipfs = await createEmbeddedIpfs({ repo: './my-node' })
 * const cid = await ipfs.content.publish(new TextEncoder().encode('hello world'))
 * console.log(await ipfs.peerId(), cid, new TextDecoder().decode(await ipfs.content.read(cid)))
 * ```
 */

export { DEFAULT_CALL_TIMEOUT, DEFAULT_LISTEN } from './constants.js'
export { EmbeddedStartError, IpnsNameNotFoundError, LocalPathError, RepoLockedError } from './errors.js'
export { createEmbeddedIpfs, type EmbeddedIpfs, type EmbeddedIpfsInit } from './node.js'
