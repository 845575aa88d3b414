import { describe, expect, it } from 'vitest'
import {
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
})
