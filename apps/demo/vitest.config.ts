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
    hookTimeout: 90_000
  }
})
