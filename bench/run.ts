// Benchmarks, run on demand (never in CI, never as timed tests): `npm run bench [-- name...]`.
// Each prints a table of ratios measured side by side in one run.
import { benchController } from "./controller.ts";
import { benchNode } from "./node.ts";
import { benchNvmeE2e } from "./nvme-e2e.ts";
import { benchSnapshots } from "./snapshots.ts";

const BENCHES: Record<string, () => Promise<void>> = {
  controller: benchController,
  node: benchNode,
  "nvme-e2e": benchNvmeE2e,
  snapshots: benchSnapshots,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  const fn = BENCHES[name];
  if (!fn) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(", ")}`);
    process.exit(2);
  }
  await fn();
}
