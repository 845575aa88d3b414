import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'rpc',
    include: ['test/**/*.test.ts'],
    // Each test starts real Kubo daemons; a cold start takes a second or two on 2 cores.
    testTimeout: 120_000,
    hookTimeout: 60_000
  }
})
