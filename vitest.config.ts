import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; the end-to-end tests spawn the built bins.
    alias: {
      "@mooring/proto": src("./proto/src/index.ts"),
      // Before "@mooring/shared", which would otherwise match this subpath as a prefix.
      "@mooring/shared/parse": src("./shared/src/parse.ts"),
      "@mooring/shared": src("./shared/src/index.ts"),
      "@mooring/global": src("./global/src/index.ts"),
      "@mooring/zone": src("./zone/src/index.ts"),
    },
  },
  test: {
    include: ["{proto,shared,global,zone}/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
