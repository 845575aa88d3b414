/**
 * @packageDocumentation
 *
 * Contacts that remember where peers live, for fast reconnects: a name for a peer id, and every
 * address a connection to it has used, kept in one JSON file that several processes can share.
 *
 * @example
 *
 * ```ts
 * import { createIpfs } from '@tk/api'
 * import { openContacts } from '@tk/lns'
 *
 * await using ipfs = createIpfs() // a Kubo node; or createEmbeddedIpfs() from @tk/embedded
 * await using contacts = await openContacts({ ipfs }) // ~/.local/share/tk/contacts.json
 * await contacts.addContact('12D3KooWRGHwJRCS33HULL1vym5rVWL15DNVhzW1xLD9PujZ9i2W', 'alice', {
 *   addresses: ['/ip4/192.0.2.7/tcp/4001']
 * })
 * const { via, address, ms } = await contacts.ensureConnected('alice')
 * console.log(`connected to alice through ${address} (${via}) in ${ms} ms`)
 * ```
 */

export {
  type AddressScope,
  classifyAddress,
  DEFAULT_SHARE_SCOPE,
  type PeerLocation,
  type ShareScope,
  selectAddressesToShare
} from './address-scope.js'
export type { ConnectResult, ConnectVia } from './connect.js'
export {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_DIAL_CONCURRENCY,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_LOCK_TIMEOUT,
  DEFAULT_MONITOR_INTERVAL,
  MAX_ADDRESSES_PER_CONTACT,
  MAX_NAME_LENGTH,
  STORE_FORMAT_VERSION
} from './constants.js'
export {
  type AbortOptions,
  type AddContactOptions,
  type AddressesToShareOptions,
  type Contact,
  type ContactStore,
  type ContactsInit,
  type CorruptStoreHandler,
  type EnsureConnectedOptions,
  type ForgetStaleAddressesOptions,
  type ForgottenAddress,
  type KnownAddress,
  openContacts
} from './contacts.js'
export { type ContactsPathOptions, defaultContactsPath, userDataDir } from './data-dir.js'
export {
  ContactNotFoundError,
  ContactUnreachableError,
  CorruptStoreError,
  type DialAttempt,
  DuplicateContactError,
  type RoutingOutcome,
  StoreClosedError,
  StoreLockTimeoutError,
  UnsupportedStoreVersionError
} from './errors.js'
export type { LockHolder } from './file-lock.js'
export {
  type ContactConnectDetail,
  type ContactErrorDetail,
  type ContactMonitor,
  type ContactMonitorEvents,
  type MonitorContactsOptions,
  type MonitoredStore,
  type MonitorListenerOptions,
  monitorContacts,
  type RoundEndDetail
} from './monitor.js'
export type { ContactsNode } from './node.js'
export { checkContactName } from './validate.js'
