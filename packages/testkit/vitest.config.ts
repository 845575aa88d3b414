import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'testkit',
    include: ['test/**/*.test.ts'],
    // Each test starts real Kubo daemons; a cold start takes a second or two on 2 cores.
    testTimeout: 60_000,
    // Above what @tk/testkit itself allows for starting and connecting nodes (60 s + 30 s), so a
    // slow start fails with its own error (Kubo's output, each step's time), not a bare hook timeout.
    hookTimeout: 120_000
  }
})
