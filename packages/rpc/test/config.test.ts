import { describe, expect, it } from 'vitest'
import { createConfigCommands, type KuboConfig } from '../src/commands/config.js'
import { useKuboNode } from './helpers.js'

function section(config: KuboConfig, name: string): Record<string, unknown> {
  return config[name] as Record<string, unknown>
}

describe('config', () => {
  const kubo = useKuboNode()
  const config = createConfigCommands(kubo.invoker)

  it('reads a value', async () => {
    expect(await config('Identity.PeerID')).toBe(kubo.node.peerId)
    expect(await config('Experimental.Libp2pStreamMounting', { expandAuto: false })).toBe(true)
  })

  it('sets a string and reads it back', async () => {
    expect(await config('Datastore.StorageMax', '42GB')).toBe('42GB')
    expect(await config('Datastore.StorageMax')).toBe('42GB')
  })

  it('sets a number and reads it back as a number', async () => {
    expect(await config('Datastore.StorageGCWatermark', 77)).toBe(77)
    expect(await config('Datastore.StorageGCWatermark')).toBe(77)
  })

  it('sets booleans, from a boolean or from a string with bool', async () => {
    expect(await config('Discovery.MDNS.Enabled', true)).toBe(true)
    expect(await config('Discovery.MDNS.Enabled')).toBe(true)
    expect(await config('Discovery.MDNS.Enabled', 'false', { bool: true })).toBe(false)
    expect(await config('Discovery.MDNS.Enabled')).toBe(false)
  })

  it('sets JSON values: arrays, objects (keys kept as given) and JSON strings with json', async () => {
    const announce = ['/ip4/192.0.2.1/tcp/4001', '/ip4/192.0.2.1/udp/4001/quic-v1']
    expect(await config('Addresses.AppendAnnounce', announce)).toEqual(announce)
    expect(await config('Addresses.AppendAnnounce')).toEqual(announce)

    const headers = { 'X-Test-Header': ['yes'], 'Access-Control-Allow-Origin': ['*'] }
    expect(await config('API.HTTPHeaders', headers)).toEqual(headers)
    expect(await config('API.HTTPHeaders')).toEqual(headers)

    expect(await config('Addresses.NoAnnounce', '["/ip4/192.0.2.9/tcp/1"]', { json: true })).toEqual([
      '/ip4/192.0.2.9/tcp/1'
    ])
    expect(await config('Addresses.NoAnnounce')).toEqual(['/ip4/192.0.2.9/tcp/1'])

    // An object that looks like options is a value when options follow it.
    expect(await config('Gateway.HTTPHeaders', {}, {})).toEqual({})
  })

  it('show contains what was set, with Kubo’s keys, and no private key', async () => {
    const shown = await config.show()
    expect(section(shown, 'Datastore').StorageMax).toBe('42GB')
    expect(section(shown, 'Datastore').StorageGCWatermark).toBe(77)
    expect(section(shown, 'Addresses').AppendAnnounce).toEqual([
      '/ip4/192.0.2.1/tcp/4001',
      '/ip4/192.0.2.1/udp/4001/quic-v1'
    ])
    expect(section(shown, 'API').HTTPHeaders).toEqual({
      'X-Test-Header': ['yes'],
      'Access-Control-Allow-Origin': ['*']
    })
    expect(section(shown, 'Identity')).toEqual({ PeerID: kubo.node.peerId })
  })

  it('replace with a modified show: show reflects it and the identity is kept', async () => {
    const shown = await config.show()
    const modified = {
      ...shown,
      Datastore: { ...section(shown, 'Datastore'), StorageMax: '43GB' },
      Addresses: { ...section(shown, 'Addresses'), AppendAnnounce: ['/ip4/192.0.2.7/tcp/4001'] }
    }
    await config.replace(modified)
    const after = await config.show()
    expect(section(after, 'Datastore').StorageMax).toBe('43GB')
    expect(section(after, 'Addresses').AppendAnnounce).toEqual(['/ip4/192.0.2.7/tcp/4001'])
    expect(section(after, 'Identity')).toEqual({ PeerID: kubo.node.peerId })
    expect(await config('Datastore.StorageMax')).toBe('43GB')

    // The same again as JSON text.
    await config.replace(
      JSON.stringify({ ...after, Datastore: { ...section(after, 'Datastore'), StorageMax: '44GB' } })
    )
    expect(await config('Datastore.StorageMax')).toBe('44GB')
  })

  it('profile apply with dryRun reports the change without making it', async () => {
    const before = await config.show()
    const { oldConfig, newConfig } = await config.profile.apply('lowpower', { dryRun: true })
    expect(section(oldConfig, 'Datastore').StorageMax).toBe('44GB')
    expect(section(oldConfig, 'Routing').Type).not.toBe('autoclient')
    expect(section(newConfig, 'Routing').Type).toBe('autoclient')
    expect(section(section(newConfig, 'Swarm'), 'ConnMgr')).toMatchObject({
      Type: 'basic',
      LowWater: 20,
      HighWater: 40,
      GracePeriod: '1m0s'
    })
    expect(section(newConfig, 'Identity')).toEqual({ PeerID: kubo.node.peerId })
    expect(await config.show()).toEqual(before)
  })

  it('profile apply without dryRun changes the config', async () => {
    const { newConfig } = await config.profile.apply('lowpower')
    expect(section(newConfig, 'Routing').Type).toBe('autoclient')
    expect(await config('Routing.Type')).toBe('autoclient')
    expect(await config('Swarm.ConnMgr.HighWater')).toBe(40)
  })

  it('surfaces Kubo’s refusals', async () => {
    await expect(config('Identity.PrivKey')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'cannot show or change private key through API'
    })
    await expect(config('NoSuchSection.Key')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'failed to get config value: "NoSuchSection not found"'
    })
    await expect(config.profile.apply('no-such-profile')).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'no-such-profile is not a profile'
    })
    await expect(config.replace({ Identity: { PrivKey: 'CAESQ' } })).rejects.toMatchObject({
      name: 'KuboRpcError',
      kuboMessage: 'setting private key with API is not supported'
    })
  })

  it('rejects bad input before any request', async () => {
    await expect(config('')).rejects.toMatchObject({ name: 'InvalidArgumentError', argument: 'key' })
    await expect(config('Datastore.StorageMax', undefined as unknown as string, {})).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'value'
    })
    await expect(config.replace('{ not json')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'config'
    })
    await expect(config.replace([] as unknown as KuboConfig)).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'config'
    })
    await expect(config.profile.apply('')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'profile'
    })
  })
})
