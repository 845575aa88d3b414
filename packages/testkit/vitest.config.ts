import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'testkit',
    include: ['test/**/*.test.ts'],
    // Each test starts real Kubo daemons; a cold start takes a second or two on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
