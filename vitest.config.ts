import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests run the compiled worker and CLI from dist/: rebuild it first when src/ is newer.
    globalSetup: ['scripts/build-if-stale.js'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each integration file starts real servers with worker threads; two cores: keep files serial-ish.
    fileParallelism: false,
    pool: 'forks',
  },
});
