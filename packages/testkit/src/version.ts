/** Parses `0.43.0`, `v0.43.0` or `0.43.0-rc1` into numbers; undefined when it is not a version. */
export function parseVersion(text: string): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim())
  if (match == null) return undefined
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)]
}

/** Negative when a < b, 0 when equal, positive when a > b. Both must be versions. */
export function compareVersions(a: string, b: string): number {
  const left = parseVersion(a)
  const right = parseVersion(b)
  if (left == null || right == null) throw new TypeError(`Not a version: ${left == null ? a : b}`)
  for (let index = 0; index < 3; index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0)
    if (difference !== 0) return difference
  }
  return 0
}
