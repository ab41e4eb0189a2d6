import { defineConfig } from 'vitest/config';

// Integration files each start their own nats-server, so files run in separate forks; two
// at a time matches the two cores CI has.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { JETSAGA_LOG: process.env.JETSAGA_LOG ?? 'silent' },
  },
});
