import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'lns',
    include: ['test/**/*.test.ts'],
    // Integration tests start real Kubo daemons and child processes that fsync hundreds of times.
    testTimeout: 120_000,
    hookTimeout: 60_000
  }
})
