import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'lns',
    include: ['test/**/*.test.ts'],
    // Integration tests start real Kubo daemons and child processes that fsync hundreds of times.
    testTimeout: 120_000,
    // Above what @tk/testkit itself allows for starting and connecting nodes (60 s + 30 s), so a
    // slow start fails with its own error (Kubo's output, each step's time), not a bare hook timeout.
    hookTimeout: 120_000
  }
})
