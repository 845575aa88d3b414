import { describe, expect, it } from 'vitest'
import { compareVersions, parseVersion } from '../src/version.js'

describe('versions', () => {
  it('parses Kubo and Go version strings', () => {
    expect(parseVersion('0.43.0')).toEqual([0, 43, 0])
    expect(parseVersion('v0.40.1-rc1')).toEqual([0, 40, 1])
    expect(parseVersion('1.26')).toEqual([1, 26, 0])
    expect(parseVersion('kubo')).toBeUndefined()
  })

  it('compares numerically, not as text', () => {
    expect(compareVersions('0.9.0', '0.10.0')).toBeLessThan(0)
    expect(compareVersions('1.26.8', '1.26.5')).toBeGreaterThan(0)
    expect(compareVersions('0.40.0', 'v0.40.0')).toBe(0)
  })
})
