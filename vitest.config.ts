import { defineConfig } from 'vitest/config'

// One Vitest project per package (each package's own vitest.config.ts); `pnpm --filter <pkg> test`
// runs one package's tests on their own.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*']
  }
})
