import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'cli-backend',
    include: ['test/**/*.test.ts'],
    // Each test starts real Kubo daemons and every CLI call starts an `ipfs` process.
    testTimeout: 120_000,
    // Above what @tk/testkit itself allows for starting and connecting nodes (60 s + 30 s), so a
    // slow start fails with its own error (Kubo's output, each step's time), not a bare hook timeout.
    hookTimeout: 120_000
  }
})
