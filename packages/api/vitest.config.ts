import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'api',
    include: ['test/**/*.test.ts'],
    // Tests start real Kubo daemons; the CLI backend starts an `ipfs` process per call.
    testTimeout: 120_000,
    // Above what @tk/testkit itself allows for starting and connecting nodes (60 s + 30 s), so a
    // slow start fails with its own error (Kubo's output, each step's time), not a bare hook timeout.
    hookTimeout: 120_000
  }
})
