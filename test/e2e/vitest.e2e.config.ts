// vitest config for the NVMe/TCP end-to-end scenarios. They run ONLY inside the e2e VM (test/e2e/run-e2e.ts
// boots it): they need the guest kernel's nvmet, nvmet-tcp and nvme-tcp, and they change kernel state.
// The main vitest.config.ts includes test/**/*.test.ts; these files are *.e2e.ts, so it never picks them up.
//
// One worker, files in name order, no isolation: the scenarios share one kernel (one NVMe/TCP port, one
// set of nvme controllers) and run one after the other; a Node process costs ~1 s to start under TCG.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import type { TestSpecification } from "vitest/node";
import { BaseSequencer } from "vitest/node";

class ByFileName extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

const out = process.env.E2E_OUT;

export default defineConfig({
  // The repository is read-only inside the VM (9p): caches go to the guest's tmpfs.
  cacheDir: join(tmpdir(), "vitest-e2e-cache"),
  test: {
    root: join(import.meta.dirname, "../.."),
    include: ["test/e2e/scenarios/*.e2e.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    isolate: false,
    sequence: { sequencer: ByFileName },
    // Node 24 runs the TypeScript sources itself (type stripping, as bin/rds-csi does): Vite's module
    // runner transforming every imported file roughly doubled the run time under TCG.
    experimental: { viteModuleRunner: false, nodeLoader: false },
    reporters: out ? ["default", "junit", "json"] : ["default"],
    outputFile: out ? { junit: join(out, "junit.xml"), json: join(out, "vitest.json") } : undefined,
  },
});
