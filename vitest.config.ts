import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests open real sockets and spawn nats-server; on a 2-core CI box
    // running every file at once turns scheduling noise into flaky timeouts.
    maxWorkers: 2,
    fileParallelism: true
  }
})
