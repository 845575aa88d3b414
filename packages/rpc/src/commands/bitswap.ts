import { type Invoker, list } from '../invoker.js'
import type { CallOptions } from '../options.js'
import { checkPeerId } from '../validate.js'

export interface BitswapWantlistOptions extends CallOptions {
  /** Another peer's wantlist, as this node knows it; default this node's own. */
  peer?: string
}

export interface BitswapStat {
  /** CIDs this node is asking peers for right now. */
  wantlist: string[]
  /** Peers the bitswap server has a ledger with (empty when the server is disabled). */
  peers: string[]
  blocksReceived: number
  /** Bytes received in blocks. */
  dataReceived: number
  /** Blocks received that this node already had. */
  duplicateBlocksReceived: number
  /** Bytes of those duplicate blocks. */
  duplicateDataReceived: number
  messagesReceived: number
  blocksSent: number
  /** Bytes sent in blocks. */
  dataSent: number
}

/** The bitswap server's ledger with one peer. */
export interface BitswapLedger {
  peer: string
  /** Debt ratio: bytes sent / (bytes received + 1). */
  value: number
  /** Bytes sent to the peer. */
  sent: number
  /** Bytes received from the peer. */
  received: number
  /** Blocks exchanged with the peer, either way. */
  exchanged: number
}

/** Kubo's JSON for `bitswap stat` and `stats bitswap`. */
export interface RawBitswapStat {
  Wantlist: Array<{ '/': string }> | null
  Peers: string[] | null
  BlocksReceived: number
  DataReceived: number
  DupBlksReceived: number
  DupDataReceived: number
  MessagesReceived: number
  BlocksSent: number
  DataSent: number
}

/** Maps Kubo's bitswap statistics to a {@link BitswapStat}. */
export function toBitswapStat(raw: RawBitswapStat): BitswapStat {
  return {
    wantlist: list(raw.Wantlist).map(link => link['/']),
    peers: list(raw.Peers),
    blocksReceived: raw.BlocksReceived,
    dataReceived: raw.DataReceived,
    duplicateBlocksReceived: raw.DupBlksReceived,
    duplicateDataReceived: raw.DupDataReceived,
    messagesReceived: raw.MessagesReceived,
    blocksSent: raw.BlocksSent,
    dataSent: raw.DataSent
  }
}

/** `bitswap/*`: the block exchange with peers. */
export function createBitswapCommands(invoker: Invoker) {
  return {
    /**
     * Bitswap's counters, wantlist and partners. (Kubo's `verbose` and `human` options only change
     * its text output, so they are not offered.)
     */
    stat: async (options: CallOptions = {}): Promise<BitswapStat> =>
      toBitswapStat(await invoker.json<RawBitswapStat>('bitswap/stat', options)),

    /** The CIDs this node (or, with `peer`, another peer) wants. */
    wantlist: async (options: BitswapWantlistOptions = {}): Promise<string[]> => {
      if (options.peer != null) checkPeerId(options.peer, 'peer')
      const raw = await invoker.json<{ Keys: Array<{ '/': string }> | null }>('bitswap/wantlist', options)
      return list(raw.Keys).map(link => link['/'])
    },

    /** The bytes and blocks exchanged with one peer. */
    ledger: async (peerId: string, options: CallOptions = {}): Promise<BitswapLedger> => {
      const raw = await invoker.json<{
        Peer: string
        Value: number
        Sent: number
        Recv: number
        Exchanged: number
      }>('bitswap/ledger', options, {
        args: [checkPeerId(peerId)]
      })
      return {
        peer: raw.Peer,
        value: raw.Value,
        sent: raw.Sent,
        received: raw.Recv,
        exchanged: raw.Exchanged
      }
    },

    /**
     * Starts a reprovide cycle now (an alias of `routing reprovide`: only the legacy provider can).
     * @deprecated Use `routing.reprovide`.
     */
    reprovide: async (options: CallOptions = {}): Promise<void> => {
      await invoker.none('bitswap/reprovide', options)
    }
  }
}
