import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { useKuboAndEmbedded } from './helpers.js'

describe('IPNS between an embedded node and Kubo (LAN DHT)', () => {
  const both = useKuboAndEmbedded()

  it('keys: self first with the node id as a k51 name, create, list, delete; a missing key is IpnsKeyNotFoundError', async () => {
    const { embedded } = both
    const keys = await embedded.ipns.listKeys()
    expect(keys[0]?.name).toBe('self')
    expect(keys[0]?.id).toMatch(/^k51/)
    const id = await embedded.ipns.createKey('site')
    expect(id).toMatch(/^k51/)
    expect(await embedded.ipns.listKeys()).toContainEqual({ name: 'site', id })
    await embedded.ipns.deleteKey('site')
    expect((await embedded.ipns.listKeys()).map(key => key.name)).not.toContain('site')
    await expect(
      embedded.ipns.publish('site', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    ).rejects.toMatchObject({
      name: 'IpnsKeyNotFoundError'
    })
  })

  it('a name the embedded node publishes resolves on Kubo and reads there', async () => {
    const { kubo, embedded } = both
    const content = randomBytes(2_000)
    const cid = await embedded.content.publish(content)
    const name = await embedded.ipns.createKey(`to-kubo-${randomBytes(3).toString('hex')}`)
    const keyName = (await embedded.ipns.listKeys()).find(key => key.id === name)?.name ?? ''
    const published = await embedded.ipns.publish(keyName, cid, { timeout: 20_000 })
    expect(published).toEqual({ name, value: `/ipfs/${cid}` })
    expect(await embedded.ipns.resolve(keyName)).toBe(`/ipfs/${cid}`)
    expect(await kubo.resolveIpns(name, { timeout: 20_000 })).toBe(`/ipfs/${cid}`)
    expect(Buffer.from(await kubo.readIpnsRecord(name, { timeout: 20_000 })).equals(content)).toBe(true)
  })

  it('a name Kubo publishes resolves on the embedded node and reads there', async () => {
    const { kubo, embedded } = both
    const content = randomBytes(2_000)
    const cid = await kubo.publish(content)
    const keyName = `from-kubo-${randomBytes(3).toString('hex')}`
    const name = await kubo.createIpnsKey(keyName)
    await kubo.updateIpnsRecordFromCid(keyName, cid, { timeout: 20_000 })
    expect(await embedded.ipns.resolve(name, { timeout: 20_000 })).toBe(`/ipfs/${cid}`)
    expect(await embedded.ipns.resolve(`/ipns/${name}`, { timeout: 20_000 })).toBe(`/ipfs/${cid}`)
    expect(Buffer.from(await embedded.ipns.read(name, { timeout: 20_000 })).equals(content)).toBe(true)
  })
})
