import { randomBytes } from 'node:crypto'
import { createIpfs } from '@tk/api'
import { createKuboNode } from '@tk/testkit'
import { describe, expect, it, vi } from 'vitest'
import { listenForTransmissions, type TransmissionError, transmitData } from '../src/index.js'
import { nextValue, sha256, usePair } from './helpers.js'

const pair = usePair()

describe('transmitData / listenForTransmissions', () => {
  it('delivers data both ways, with the sender id Kubo authenticated', async () => {
    const { a, b } = pair
    for (const [from, to] of [
      [a, b],
      [b, a]
    ] as const) {
      const got = nextValue<{ data: Uint8Array; peerId: string }>()
      await using _listener = await listenForTransmissions(
        'inbox',
        (data, peerId) => got.deliver({ data, peerId }),
        {
          ipfs: to.ipfs
        }
      )
      const payload = randomBytes(1024 * 1024 + 7)
      await transmitData(payload, to.node.peerId, 'inbox', { ipfs: from.ipfs })
      const received = await got.promise
      expect(received.peerId).toBe(from.node.peerId)
      expect(sha256(received.data)).toBe(sha256(payload))
    }
  })

  it('carries every byte value, text and empty data', async () => {
    const { a, b } = pair
    const received: Uint8Array[] = []
    await using _listener = await listenForTransmissions('bytes', data => void received.push(data), {
      ipfs: b.ipfs
    })
    const every = Uint8Array.from({ length: 256 }, (_, index) => index)
    await transmitData(every, b.node.peerId, 'bytes', { ipfs: a.ipfs })
    await transmitData('héllo', b.node.peerId, '/x/bytes', { ipfs: a.ipfs })
    await transmitData(new Uint8Array(0), b.node.peerId, 'bytes', { ipfs: a.ipfs })
    await expect.poll(() => received.length).toBe(3)
    expect(received.map(data => sha256(data))).toEqual([
      sha256(every),
      sha256(new TextEncoder().encode('héllo')),
      sha256(new Uint8Array(0))
    ])
  })

  it('applies encrypt and decrypt to every chunk', async () => {
    const { a, b } = pair
    const flip = (bytes: Uint8Array): Uint8Array => bytes.map(byte => byte ^ 0x5a)
    const got = nextValue<Uint8Array>()
    await using _listener = await listenForTransmissions('secret', data => got.deliver(data), {
      ipfs: b.ipfs,
      decrypt: flip
    })
    const payload = randomBytes(600_000)
    await transmitData(payload, b.node.peerId, 'secret', {
      ipfs: a.ipfs,
      encrypt: async bytes => flip(bytes)
    })
    expect(sha256(await got.promise)).toBe(sha256(payload))

    // Without the matching decrypt the digest fails, and the sender hears so.
    await expect(transmitData(payload, b.node.peerId, 'secret', { ipfs: a.ipfs })).rejects.toMatchObject({
      name: 'TransmissionError',
      code: 'digest-mismatch',
      remote: true
    })
  })

  it('50 concurrent transmissions to one listener all arrive intact', async () => {
    const { a, b } = pair
    const received = new Map<string, string>()
    await using _listener = await listenForTransmissions(
      'many',
      data => {
        received.set(new TextDecoder().decode(data.subarray(0, 8)), sha256(data))
      },
      { ipfs: b.ipfs }
    )
    const payloads = Array.from({ length: 50 }, (_, index) =>
      Buffer.concat([Buffer.from(String(index).padStart(8, '0')), randomBytes(1000 + index * 100)])
    )
    await Promise.all(payloads.map(payload => transmitData(payload, b.node.peerId, 'many', { ipfs: a.ipfs })))
    await expect.poll(() => received.size).toBe(50)
    for (const payload of payloads) {
      expect(received.get(payload.subarray(0, 8).toString())).toBe(sha256(payload))
    }
  })

  it('the allow hook refuses a peer with forbidden, and the listener goes on serving', async () => {
    const { a, b } = pair
    const received: string[] = []
    const errors: string[] = []
    const asked: string[] = []
    await using _listener = await listenForTransmissions(
      'guarded',
      (_data, peerId) => void received.push(peerId),
      {
        ipfs: b.ipfs,
        // Refuses the first attempt only, so the second shows the listener still serving.
        allow: peerId => asked.push(peerId) > 1,
        onError: error => void errors.push((error as TransmissionError).code)
      }
    )
    await expect(transmitData('let me in', b.node.peerId, 'guarded', { ipfs: a.ipfs })).rejects.toMatchObject(
      {
        code: 'forbidden',
        remote: true
      }
    )
    await expect.poll(() => errors).toEqual(['forbidden'])
    expect(received).toEqual([])
    await transmitData('now?', b.node.peerId, 'guarded', { ipfs: a.ipfs })
    await expect.poll(() => received).toEqual([a.node.peerId])
    expect(asked).toEqual([a.node.peerId, a.node.peerId])
  })

  it('data beyond the listener’s maxMessageSize is refused before it is sent', async () => {
    const { a, b } = pair
    await using _listener = await listenForTransmissions('small', () => {}, {
      ipfs: b.ipfs,
      maxMessageSize: 1000
    })
    await expect(
      transmitData(new Uint8Array(1001), b.node.peerId, 'small', { ipfs: a.ipfs })
    ).rejects.toMatchObject({
      code: 'too-large'
    })
  })

  it('a sender to a name nobody listens on fails within its timeout', async () => {
    const { a, b } = pair
    const started = Date.now()
    const error = await transmitData('anyone?', b.node.peerId, 'nobody', {
      ipfs: a.ipfs,
      timeout: 10_000
    }).catch((caught: unknown) => caught as Error)
    expect(error?.name).toBe('StreamClosedError')
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('closing listeners and finished senders leaves p2p ls empty on both nodes', async () => {
    const { a, b } = pair
    {
      await using _listener = await listenForTransmissions('tidy', () => {}, { ipfs: b.ipfs })
      await transmitData('x', b.node.peerId, 'tidy', { ipfs: a.ipfs })
      expect((await b.ipfs.client.p2p.ls()).map(tunnel => tunnel.protocol)).toContain('/x/tidy')
    }
    await expect.poll(async () => (await a.ipfs.client.p2p.ls()).length, { timeout: 10_000 }).toBe(0)
    expect(await b.ipfs.client.p2p.ls()).toEqual([])
  })

  it('rejects bad arguments before any request', async () => {
    await expect(transmitData('x', 'not-a-peer', 'inbox')).rejects.toMatchObject({ argument: 'peerId' })
    await expect(transmitData('x', pair.b.node.peerId, '')).rejects.toMatchObject({
      argument: 'listenerName'
    })
  })
})

describe('a node without stream mounting', () => {
  it('says how to turn it on, for listeners and senders', async () => {
    await using node = await createKuboNode({ config: { Experimental: { Libp2pStreamMounting: false } } })
    await using ipfs = createIpfs({ backend: 'http', api: node.apiUrl })
    const refusals = [
      await listenForTransmissions('off', () => {}, { ipfs }).catch((error: unknown) => error as Error),
      await transmitData('x', pair.b.node.peerId, 'off', { ipfs }).catch((error: unknown) => error as Error)
    ]
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ name: 'StreamMountingDisabledError' })
      expect((refusal as Error).message).toContain(
        'ipfs config --json Experimental.Libp2pStreamMounting true'
      )
    }
  })
})

describe('a listener’s timeout', () => {
  it('bounds opening only: the listener still serves after it has passed', async () => {
    const { a, b } = pair
    const received: string[] = []
    await using _listener = await listenForTransmissions(
      'lasting',
      data => void received.push(sha256(data)),
      {
        ipfs: b.ipfs,
        timeout: 300,
        signal: new AbortController().signal
      }
    )
    // A sleep that is needed: what is tested is that passing the timeout does nothing, so it must pass.
    await new Promise(resolve => setTimeout(resolve, 800))
    await transmitData('still here', b.node.peerId, 'lasting', { ipfs: a.ipfs })
    await expect.poll(() => received).toEqual([sha256(new TextEncoder().encode('still here'))])
  })
})

describe('a listener without onError', () => {
  it('logs one line per failed stream, naming the listener, the peer and the code', async () => {
    const { a, b } = pair
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      await using _listener = await listenForTransmissions('logged', () => {}, {
        ipfs: b.ipfs,
        allow: () => false
      })
      await expect(transmitData('x', b.node.peerId, 'logged', { ipfs: a.ipfs })).rejects.toMatchObject({
        code: 'forbidden'
      })
      await expect.poll(() => warn.mock.calls.length).toBe(1)
      expect(warn.mock.calls[0]?.[0]).toBe(
        `[@tk/transmission /x/logged] ${a.node.peerId}: this listener does not serve your peer id (forbidden)`
      )
    } finally {
      warn.mockRestore()
    }
  })
})
