import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'cli-backend',
    include: ['test/**/*.test.ts'],
    // Each test starts real Kubo daemons and every CLI call starts an `ipfs` process.
    testTimeout: 120_000,
    hookTimeout: 60_000
  }
})
