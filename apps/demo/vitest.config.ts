import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'demo',
    include: ['test/**/*.test.ts'],
    // The tests run the built app (dist/main.js) in child processes, as a user would; build it first.
    globalSetup: ['test/build.ts'],
    // Each file starts up to two Kubo daemons; one file at a time keeps a 2-core machine responsive.
    fileParallelism: false,
    testTimeout: 180_000,
    // Above what @tk/testkit itself allows for starting and connecting nodes (60 s + 30 s), so a
    // slow start fails with its own error (Kubo's output, each step's time), not a bare hook timeout.
    hookTimeout: 120_000
  }
})
