import { createKuboNode } from '@tk/testkit'
import { describe, expect, it } from 'vitest'
import { runApp } from './helpers.js'

describe('tk-demo on a daemon with stream mounting and pubsub off', () => {
  it('says which setting to turn on, with exit code 1', async () => {
    await using node = await createKuboNode({
      config: { Experimental: { Libp2pStreamMounting: false }, Pubsub: { Enabled: false } }
    })
    const receive = await runApp(['receive', '--api', node.apiMultiaddr])
    expect(receive.code).toBe(1)
    expect(receive.stderr).toContain('stream mounting (Experimental.Libp2pStreamMounting) turned off')
    expect(receive.stderr).toContain('ipfs config --json Experimental.Libp2pStreamMounting true')

    const chat = await runApp(['chat', 'lobby', '--api', node.apiMultiaddr], { input: 'hello\n' })
    expect(chat.code).toBe(1)
    expect(chat.stderr).toContain('ipfs config --json Pubsub.Enabled true')
  })
})
