import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'kubo-process',
    include: ['test/**/*.test.ts']
  }
})
