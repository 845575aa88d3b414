import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'embedded',
    include: ['test/**/*.test.ts'],
    // Tests start real Kubo daemons beside the embedded nodes.
    testTimeout: 120_000,
    hookTimeout: 60_000
  }
})
