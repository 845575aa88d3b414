import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'transmission',
    include: ['test/**/*.test.ts'],
    // Tests start real Kubo daemons and move files through their tunnels.
    testTimeout: 120_000,
    hookTimeout: 60_000
  }
})
