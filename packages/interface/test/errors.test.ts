import { describe, expect, it } from 'vitest'
import {
  CALL_TIMEOUT,
  CallTimeoutError,
  ContentTooLargeError,
  InvalidArgumentError,
  IpnsKeyNotFoundError,
  ModeNotSupportedError,
  NodeClosedError,
  PeerNotFoundError,
  PubsubHandlerError,
  SubscriptionOverflowError
} from '../src/index.js'

describe('errors', () => {
  it('ModeNotSupportedError names the call, the mode and what to use instead', () => {
    const error = new ModeNotSupportedError(
      'ipns.publish',
      'embedded',
      "Use a Kubo node (mode 'kubo') for IPNS."
    )
    expect(error.name).toBe('ModeNotSupportedError')
    expect(ModeNotSupportedError.name).toBe('ModeNotSupportedError')
    expect(error.operation).toBe('ipns.publish')
    expect(error.mode).toBe('embedded')
    expect(error.message).toBe(
      "ipns.publish is not supported in embedded mode. Use a Kubo node (mode 'kubo') for IPNS."
    )
    expect(error).toBeInstanceOf(Error)
  })

  it('every error has the same static and instance name and passes the cause through', () => {
    const cause = new Error('underneath')
    const errors = [
      new ModeNotSupportedError('tunnels.openListener', 'embedded', 'x', { cause }),
      new NodeClosedError('content.read', { cause }),
      new InvalidArgumentError('cid', 'expected a CID', { cause }),
      new CallTimeoutError('content.read', 500, { cause }),
      new ContentTooLargeError('bafy', 10, { cause }),
      new PeerNotFoundError('12D3Koo', { cause }),
      new SubscriptionOverflowError('topic', 3, 1024, { cause }),
      new PubsubHandlerError('topic', '12D3Koo', { cause }),
      new IpnsKeyNotFoundError('site', { cause })
    ]
    expect(errors.map(error => error.name)).toEqual([
      'ModeNotSupportedError',
      'NodeClosedError',
      'InvalidArgumentError',
      'CallTimeoutError',
      'ContentTooLargeError',
      'PeerNotFoundError',
      'SubscriptionOverflowError',
      'PubsubHandlerError',
      'IpnsKeyNotFoundError'
    ])
    for (const error of errors) {
      expect((error.constructor as { name: string }).name).toBe(error.name)
      expect(error.cause).toBe(cause)
    }
    expect(new CallTimeoutError('content.read', 500).message).toContain('500 ms')
    expect(new SubscriptionOverflowError('t', 1, 9).message).toContain('dropped 1 message:')
  })

  it('instanceof CallTimeoutError holds for any error with the CALL_TIMEOUT mark (another copy, @tk/rpc), and not for others', () => {
    expect(new CallTimeoutError('content.read', 5)).toBeInstanceOf(CallTimeoutError)
    // What a second installed copy of this package, or @tk/rpc's RpcTimeoutError, makes: marked through Symbol.for.
    const mark: unique symbol = Symbol.for('@tk/interface:CallTimeoutError')
    class ElsewhereTimeoutError extends Error {
      readonly [mark] = true
    }
    expect(CALL_TIMEOUT).toBe(Symbol.for('@tk/interface:CallTimeoutError'))
    expect(new ElsewhereTimeoutError('x')).toBeInstanceOf(CallTimeoutError)
    expect(new Error('timeout')).not.toBeInstanceOf(CallTimeoutError)
    expect(Object.assign(new Error('x'), { name: 'CallTimeoutError' })).not.toBeInstanceOf(CallTimeoutError)
    expect((null as unknown as object) instanceof CallTimeoutError).toBe(false)
    // A subclass keeps the ordinary instanceof: a marked error is not one of it by the mark alone.
    class NarrowerTimeoutError extends CallTimeoutError {}
    expect(new NarrowerTimeoutError('x', 1)).toBeInstanceOf(CallTimeoutError)
    expect(new NarrowerTimeoutError('x', 1)).toBeInstanceOf(NarrowerTimeoutError)
    expect(new CallTimeoutError('x', 1)).not.toBeInstanceOf(NarrowerTimeoutError)
    expect(new ElsewhereTimeoutError('x')).not.toBeInstanceOf(NarrowerTimeoutError)
  })
})
