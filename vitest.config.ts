import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Node-side tests attach real loop devices and mount real filesystems; keep files in separate
    // processes so a failing test cannot leave another file's mounts in a strange state.
    pool: "forks",
    reporters: ["default"],
  },
});
