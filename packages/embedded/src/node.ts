import fs from 'node:fs/promises'
import path from 'node:path'
import { withBitswap } from '@helia/bitswap'
import { ipns as createHeliaIpns } from '@helia/ipns'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { type Ping, ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { type CallOptions, InvalidArgumentError, type Ipfs } from '@tk/interface'
import { MemoryBlockstore } from 'blockstore-core'
import { FsBlockstore } from 'blockstore-fs'
import { MemoryDatastore } from 'datastore-core'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight, type Helia } from 'helia'
import { createLibp2p, type Libp2p } from 'libp2p'
import { type Announcer, createAnnouncer } from './announce.js'
import { runCall } from './call.js'
import {
  CLOSE_TIMEOUT,
  DEFAULT_LISTEN,
  IDENTITY_FILE,
  LAN_DHT_PROTOCOL,
  LOCK_FILE,
  WAN_DHT_PROTOCOL
} from './constants.js'
import { createContent } from './content.js'
import { EmbeddedStartError, RepoLockedError } from './errors.js'
import { createIpns, createNameResolver } from './ipns.js'
import { createPeers } from './peers.js'
import { createPubsub } from './pubsub.js'
import { libp2pRouter } from './routing.js'
import { createStreams } from './streams.js'
import { createTunnels } from './tunnels.js'

export interface EmbeddedIpfsInit extends CallOptions {
  /**
   * A directory for the node's identity (its private key: the same peer id after a restart),
   * blocks, pins and peer data; created if missing. Without it the node lives in memory only.
   */
  repo?: string
  /** Multiaddrs to listen on; default `/ip4/127.0.0.1/tcp/0` (loopback, an OS-chosen port). */
  listen?: string[]
  /** Multiaddrs (each ending in `/p2p/<peer id>`) to connect to once started; default none. */
  bootstrap?: string[]
  /**
   * Which Kademlia DHT to run, for finding peers and providers: `lan` (default; Kubo's LAN DHT,
   * `/ipfs/lan/kad/1.0.0`, which keeps only private and loopback addresses), `wan` (the public
   * Amino DHT, `/ipfs/kad/1.0.0`; needs bootstrap peers on the internet), or `off`.
   */
  dht?: 'lan' | 'wan' | 'off'
}

/** The {@link Ipfs} API on an embedded node, plus what only this mode has. */
export interface EmbeddedIpfs extends Ipfs {
  /** The Helia node underneath, for anything the API does not cover. */
  readonly helia: Helia
  /**
   * The DHT announcements of what `content.publish` and `content.pin` stored (they run in the
   * background): how many CIDs wait or are in flight, and how many reached a DHT peer. Both 0
   * with `dht: 'off'`.
   */
  readonly announcements: { readonly pending: number; readonly announced: number }
}

/** The node and its parts, for the functions built on it. */
interface Parts {
  helia: Helia
  libp2p: Libp2p<{ identify: unknown; ping: Ping; pubsub: GossipSub; dht?: KadDHT }>
}

/**
 * Starts an IPFS node in this process (Helia with a minimal js-libp2p: TCP, Noise, Yamux,
 * identify, ping, gossipsub, bitswap) and returns the {@link Ipfs} API on it: content, pubsub,
 * ipns, peers, streams and tunnels.
 */
export async function createEmbeddedIpfs(init: EmbeddedIpfsInit = {}): Promise<EmbeddedIpfs> {
  const closing = new AbortController()
  const parts = await runCall('createEmbeddedIpfs', init, closing.signal, async signal => {
    try {
      return await start(init, signal)
    } catch (error) {
      if (signal.aborted) throw signal.reason
      throw error instanceof EmbeddedStartError || error instanceof RepoLockedError
        ? error
        : new EmbeddedStartError(error instanceof Error ? error.message : String(error), { cause: error })
    }
  })
  const { helia, libp2p } = parts
  const peerId = libp2p.peerId.toString()

  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= (async () => {
      closing.abort()
      await Promise.race([helia.stop(), new Promise(resolve => setTimeout(resolve, CLOSE_TIMEOUT).unref())])
    })()
    await closed
  }

  const dht = libp2p.services.dht
  const announcer: Announcer | undefined = dht == null ? undefined : createAnnouncer(dht, closing.signal)
  const names = createHeliaIpns(helia as never)
  const resolveName = createNameResolver(names)
  const content = createContent(helia, closing.signal, resolveName, cids => announcer?.announce(cids))
  const ipfs: EmbeddedIpfs = {
    mode: 'embedded',
    helia,
    announcements: {
      get pending() {
        return announcer?.pending ?? 0
      },
      get announced() {
        return announcer?.announced ?? 0
      }
    },
    content,
    pubsub: createPubsub(libp2p.services.pubsub, closing.signal),
    peers: createPeers(libp2p, closing.signal),
    streams: createStreams(libp2p, closing.signal),
    ipns: createIpns(helia, names, resolveName, content, peerId, closing.signal),
    tunnels: createTunnels(libp2p, closing.signal),
    peerId: async (options: CallOptions = {}) =>
      await runCall('peerId', options, closing.signal, async () => peerId),
    addresses: async (options: CallOptions = {}) =>
      await runCall('addresses', options, closing.signal, async () =>
        libp2p.getMultiaddrs().map(address => address.toString())
      ),
    close,
    [Symbol.asyncDispose]: close
  }
  return ipfs
}

async function start(init: EmbeddedIpfsInit, signal: AbortSignal): Promise<Parts> {
  const repo = init.repo == null ? undefined : path.resolve(init.repo)
  if (repo != null) await fs.mkdir(repo, { recursive: true })
  const unlock = repo == null ? async () => {} : await lockRepo(repo)
  try {
    return await startWith(init, repo, unlock, signal)
  } catch (error) {
    await unlock()
    throw error
  }
}

async function startWith(
  init: EmbeddedIpfsInit,
  repo: string | undefined,
  unlock: () => Promise<void>,
  signal: AbortSignal
): Promise<Parts> {
  const privateKey = repo == null ? await generateKeyPair('Ed25519') : await loadOrCreateKey(repo)
  const blockstore = repo == null ? new MemoryBlockstore() : new FsBlockstore(path.join(repo, 'blocks'))
  const datastore = repo == null ? new MemoryDatastore() : new FsDatastore(path.join(repo, 'datastore'))
  if (repo != null) {
    await (blockstore as FsBlockstore).open()
    await (datastore as FsDatastore).open()
  }
  const libp2p = await createLibp2p({
    privateKey,
    datastore,
    start: false,
    addresses: { listen: init.listen ?? DEFAULT_LISTEN },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      // Kubo delivers a node's own messages to its own subscribers, and publishing to a topic
      // nobody else is on yet is not an error there: the same here.
      pubsub: gossipsub({ emitSelf: true, allowPublishToZeroTopicPeers: true }),
      ...dhtService(init.dht ?? 'lan')
    }
  })
  const helia = createHeliaLight({ blockstore, datastore }) as unknown as Helia & {
    addMixin(mixin: { name: string; start?: () => Promise<void>; stop?: () => Promise<void> }): void
  }
  // What @helia/libp2p's withLibp2pLight does, with our libp2p: that package would bring its
  // default transports (WebRTC, WebSockets, …) along.
  Object.defineProperty(helia, 'libp2p', { value: libp2p, enumerable: true })
  helia.addMixin({
    name: 'libp2p',
    start: async () => {
      await libp2p.start()
    },
    stop: async () => {
      try {
        await libp2p.stop()
      } finally {
        await unlock()
      }
    }
  })
  if (init.dht !== 'off')
    (helia as unknown as { addRouter(router: unknown): void }).addRouter(libp2pRouter(libp2p))
  withBitswap(helia as never)
  try {
    await helia.start()
    signal.throwIfAborted()
    // IPNS publishes under key names from Helia's keychain; the node's own key is `self` there, as in Kubo.
    const { keychain, getCrypto } = helia as unknown as SelfKeychainParts
    await keychain.exportKey('self', { signal }).catch(async () => {
      // The keychain takes keys of @ipshipyard/crypto; both speak libp2p's key protobuf.
      const crypto = await getCrypto(privateKey.type)
      await keychain.importKey(
        'self',
        await crypto.privateKeyFromProtobuf(privateKeyToProtobuf(privateKey)),
        {
          signal
        }
      )
    })
    for (const address of init.bootstrap ?? []) {
      const { multiaddr } = await import('@multiformats/multiaddr')
      await libp2p.dial(multiaddr(address), { signal })
    }
  } catch (error) {
    await helia.stop().catch(() => {})
    throw error
  }
  return { helia, libp2p: libp2p as Parts['libp2p'] }
}

function dhtService(dht: 'lan' | 'wan' | 'off') {
  if (dht === 'off') return {}
  if (dht !== 'lan' && dht !== 'wan')
    throw new InvalidArgumentError('dht', `expected 'lan', 'wan' or 'off', got ${JSON.stringify(dht)}`)
  return {
    dht:
      dht === 'lan'
        ? kadDHT({
            protocol: LAN_DHT_PROTOCOL,
            clientMode: false,
            peerInfoMapper: removePublicAddressesMapper
          })
        : kadDHT({ protocol: WAN_DHT_PROTOCOL, peerInfoMapper: passthroughMapper })
  }
}

/** What start() uses of Helia's keychain and crypto loader. */
interface SelfKeychainParts {
  keychain: {
    exportKey(name: string, options?: { signal?: AbortSignal }): Promise<unknown>
    importKey(name: string, key: unknown, options?: { signal?: AbortSignal }): Promise<unknown>
  }
  getCrypto(type: string): Promise<{ privateKeyFromProtobuf(bytes: Uint8Array): unknown }>
}

/**
 * Marks the repo as this process's (`repo.lock` holding the pid), refusing one held by a live
 * process or by a node open in this process; a lock left by a dead process is taken over.
 * Resolves with the function that releases it.
 */
async function lockRepo(repo: string): Promise<() => Promise<void>> {
  const file = path.join(repo, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' })
      let released = false
      return async () => {
        if (released) return
        released = true
        await fs.rm(file, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const pid = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10)
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) throw new RepoLockedError(repo, pid)
    // Left by a process that is gone: take it over.
    await fs.rm(file, { force: true })
  }
  throw new RepoLockedError(repo, Number.NaN)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The repo's private key, or a new Ed25519 key written there (mode 0600) for the next start. */
async function loadOrCreateKey(repo: string): Promise<PrivateKey> {
  const file = path.join(repo, IDENTITY_FILE)
  try {
    return privateKeyFromProtobuf(await fs.readFile(file))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new EmbeddedStartError(`the identity in ${file} cannot be read`, { cause: error })
  }
  const key = await generateKeyPair('Ed25519')
  // Written beside and renamed, so a crash never leaves a half-written identity.
  const temporary = `${file}.part-${process.pid}`
  await fs.writeFile(temporary, privateKeyToProtobuf(key), { mode: 0o600 })
  await fs.rename(temporary, file)
  return key
}
