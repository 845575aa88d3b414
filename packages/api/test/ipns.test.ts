import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createKuboCluster, type KuboCluster } from '@tk/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS, openPair, partFiles, sha256, snapshot, type TestApi } from './content-helpers.js'

let cluster: KuboCluster

beforeAll(async () => {
  cluster = await createKuboCluster(2)
})

afterAll(async () => {
  await cluster?.stop()
})

/**
 * B may hold an older record for a while after A publishes, or not find the new one yet: asks (the
 * failures included) until B resolves `name` to `expected`, failing after 30 s with what B said last.
 */
async function expectResolvesOn(api: TestApi, name: string, expected: string): Promise<void> {
  await expect
    .poll(async () => await api.resolveIpns(name, { nocache: true, timeout: 10_000 }), {
      timeout: 30_000,
      interval: 250,
      message: `B resolves ${name} to ${expected}`
    })
    .toBe(expected)
}

describe.each(BACKENDS)('IPNS functions over %s', backend => {
  let a: TestApi
  let b: TestApi
  let work: string
  let tree: string
  const keyName = `site-${backend}`
  let keyId = ''
  let treeCid = ''

  let close: () => Promise<void> = async () => {}

  beforeAll(async () => {
    ;({ a, b, work, tree, close } = await openPair(cluster, backend, 'ipns'))
  })

  afterAll(async () => {
    await close()
  })

  it('creates, lists and deletes keys', async () => {
    keyId = await a.createIpnsKey(keyName)
    expect(keyId).toMatch(/^k51/)
    const keys = await a.listIpnsKeys()
    expect(keys[0]?.name).toBe('self')
    expect(keys).toContainEqual({ name: keyName, id: keyId })

    const rsaId = await a.createIpnsKey(`rsa-${backend}`, { type: 'rsa', size: 2048 })
    expect(rsaId).toMatch(/^k2k4r8/)
    await a.deleteIpnsKey(`rsa-${backend}`)
    const after = await a.listIpnsKeys()
    expect(after.map(key => key.name)).not.toContain(`rsa-${backend}`)
    expect(after).toContainEqual({ name: keyName, id: keyId })
    await expect(a.deleteIpnsKey(`rsa-${backend}`)).rejects.toMatchObject({
      name: 'IpnsKeyNotFoundError',
      key: `rsa-${backend}`
    })
  })

  it('updateIpnsRecord publishes a local directory on A; B resolves it by id, /ipns/ path; A by key name', async () => {
    const published = await a.updateIpnsRecord(keyName, tree)
    treeCid = await a.predictCid(tree)
    expect(published).toEqual({ name: keyId, value: `/ipfs/${treeCid}`, cid: treeCid })
    expect((await a.pins({ cidsOnly: true })).includes(treeCid)).toBe(true)

    await expectResolvesOn(b, keyId, `/ipfs/${treeCid}`)
    expect(await b.resolveIpns(`/ipns/${keyId}`)).toBe(`/ipfs/${treeCid}`)
    expect(await a.resolveIpns(keyName)).toBe(`/ipfs/${treeCid}`)
  })

  it('downloadIpnsRecord and download of an /ipns/ path on B give the same tree', async () => {
    const expected = (await snapshot(tree)).filter(entry => entry.path !== '.hidden')
    const byRecord = path.join(work, 'by-record')
    expect(await b.downloadIpnsRecord(keyId, byRecord)).toBe(`/ipfs/${treeCid}`)
    expect(await snapshot(byRecord)).toEqual(expected)

    // The Python toolkit failed here: downloading an /ipns/ path must work like a CID.
    const byPath = path.join(work, 'by-path')
    await b.download(`/ipns/${keyId}`, byPath)
    expect(await snapshot(byPath)).toEqual(expected)
    const nested = path.join(work, 'nested-by-path')
    await b.download(`/ipns/${keyId}/nested/deeper/deep.bin`, nested)
    expect(sha256(await fs.readFile(nested))).toBe(
      sha256(await fs.readFile(path.join(tree, 'nested', 'deeper', 'deep.bin')))
    )
    expect(await partFiles(work)).toEqual([])
  })

  it('updateIpnsRecordFromCid moves the name; B reads the new file; validity is near the lifetime', async () => {
    const bytes = randomBytes(50_000)
    const cid = await a.publish(bytes)
    const before = Date.now()
    const published = await a.updateIpnsRecordFromCid(keyName, cid, { lifetime: '2h', ttl: '1m' })
    expect(published).toEqual({ name: keyId, value: `/ipfs/${cid}` })

    await expectResolvesOn(b, keyId, `/ipfs/${cid}`)
    expect(sha256(await b.readIpnsRecord(keyId, { nocache: true }))).toBe(sha256(bytes))
    expect(sha256(await a.readIpnsRecord(keyName))).toBe(sha256(bytes))
    await expect(b.readIpnsRecord(keyId, { maxBytes: 10, nocache: true })).rejects.toMatchObject({
      name: 'ContentTooLargeError'
    })

    const twoHours = 2 * 3600_000
    for (const validity of [await a.getIpnsRecordValidity(keyName), await b.getIpnsRecordValidity(keyId)]) {
      expect(validity).toBeInstanceOf(Date)
      expect(validity.getTime()).toBeGreaterThanOrEqual(before + twoHours - 1_000)
      expect(validity.getTime()).toBeLessThanOrEqual(Date.now() + twoHours + 1_000)
    }

    // A lifetime in ms works too, and a shorter one shows. (A new value: republishing the same one
    // keeps the sequence number, and then the record that lives longer wins.)
    const other = await a.publish(randomBytes(100))
    await a.updateIpnsRecordFromCid(keyName, `/ipfs/${other}`, { lifetime: 10 * 60_000 })
    const shorter = (await a.getIpnsRecordValidity(`/ipns/${keyId}`)).getTime() - Date.now()
    expect(shorter).toBeGreaterThan(9 * 60_000)
    expect(shorter).toBeLessThanOrEqual(10 * 60_000)
  })

  it('rejects bad input: key names, CIDs, paths, unknown keys', async () => {
    for (const bad of ['', 'a/b', '.hidden']) {
      await expect(a.createIpnsKey(bad)).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'name'
      })
      await expect(a.deleteIpnsKey(bad)).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'name'
      })
      await expect(a.updateIpnsRecordFromCid(bad, treeCid)).rejects.toMatchObject({ argument: 'name' })
    }
    await expect(a.createIpnsKey('self')).rejects.toMatchObject({ argument: 'name' })
    await expect(a.deleteIpnsKey('self')).rejects.toMatchObject({ argument: 'name' })
    await expect(a.createIpnsKey('sized', { size: -1 })).rejects.toMatchObject({ argument: 'size' })
    await expect(a.updateIpnsRecordFromCid(keyName, 'not-a-cid')).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      argument: 'cid'
    })
    await expect(a.updateIpnsRecordFromCid(keyName, treeCid, { ttl: -5 })).rejects.toMatchObject({
      argument: 'ttl'
    })

    const missing = path.join(work, 'missing')
    await expect(a.updateIpnsRecord(keyName, missing)).rejects.toMatchObject({
      name: 'LocalPathError',
      path: missing
    })
    await expect(a.updateIpnsRecord('no-such-key', tree)).rejects.toMatchObject({
      name: 'IpnsKeyNotFoundError',
      key: 'no-such-key'
    })
    await expect(a.updateIpnsRecordFromCid('no-such-key', treeCid)).rejects.toMatchObject({
      name: 'IpnsKeyNotFoundError',
      key: 'no-such-key'
    })
    await expect(a.deleteIpnsKey('no-such-key')).rejects.toMatchObject({ name: 'IpnsKeyNotFoundError' })
    await expect(b.resolveIpns('no-such-key')).rejects.toMatchObject({ name: 'IpnsKeyNotFoundError' })
    await expect(b.resolveIpns('')).rejects.toMatchObject({ argument: 'name' })
    await expect(b.resolveIpns('not/a/name')).rejects.toMatchObject({ argument: 'name' })
    await expect(b.getIpnsRecordValidity('example.com')).rejects.toMatchObject({ argument: 'name' })
    await expect(b.downloadIpnsRecord(keyId, '')).rejects.toMatchObject({ argument: 'destination' })
    await expect(b.downloadIpnsRecord(keyId, path.join(missing, 'x'))).rejects.toMatchObject({
      name: 'LocalPathError',
      path: missing
    })
  })
})
