import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'api',
    include: ['test/**/*.test.ts'],
    // Tests start real Kubo daemons; the CLI backend starts an `ipfs` process per call.
    testTimeout: 120_000,
    hookTimeout: 60_000
  }
})
