// Scenario 8: the real csi-sanity (kubernetes-csi/csi-test v5.5.0, built on the host before the VM
// boots) against `rds-csi all` with the nvme-tcp transport, the simulator exporting through nvmet:
// every NodeStage is a real `nvme connect`, for mount and block access types. Zero failures expected.
// The driver runs in this process (runCsiSanity's inProcess) rather than as bin/rds-csi: the same
// startDriver() with the same flags, minus two Node start-ups that cost ~15 s each under TCG.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { csiSanityBinary, runCsiSanity } from "../../sanity/run-csi-sanity.ts";
import { nvmeControllerNames, nvmetSubsystems } from "../helpers/kernel.ts";

const OUT = join(process.env.E2E_OUT ?? join(import.meta.dirname, "../../../out/e2e"), "csi-sanity");

function junitCounts(file: string): { cases: number; failures: number } {
  const text = readFileSync(file, "utf8");
  const cases = text.split("<testcase").slice(1);
  return {
    cases: cases.length,
    failures: cases.filter((c) => /<failure|<error/.test(c.split("</testcase>")[0] ?? "")).length,
  };
}

describe("csi-sanity over NVMe/TCP", () => {
  for (const accessType of ["mount", "block"] as const) {
    it(`passes for access type ${accessType}`, { timeout: 900_000 }, async () => {
      const ok = await runCsiSanity(
        { accessType, transport: "nvme-tcp", outDir: OUT, inProcess: true },
        csiSanityBinary(),
      );
      const counts = junitCounts(join(OUT, `junit-${accessType}.xml`));
      expect(counts.failures).toBe(0);
      expect(counts.cases).toBeGreaterThan(50);
      expect(ok).toBe(true);
      // Nothing left behind in the kernel: no exports, no connections.
      expect(nvmetSubsystems()).toEqual([]);
      expect(nvmeControllerNames()).toEqual([]);
    });
  }
});
