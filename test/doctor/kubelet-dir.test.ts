// Which kubelet directory `rds-csi doctor --node` checks (issue 17 item 6). The Helm chart sets
// RDS_CSI_KUBELET_DIR on the node plugin from its kubeletDir value, so `kubectl exec … rds-csi doctor --node`
// inside the plugin checks the directory the cluster really uses; --kubelet-dir still wins. Runs the real
// CLI (bin/rds-csi) against real directories of this machine.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const BIN = join(import.meta.dirname, "..", "..", "bin", "rds-csi");
const PROPAGATION = "node.kubelet-dir.propagation";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "doctor-kubelet-dir-"));
  await mkdir(join(dir, "loop-root"));
  await mkdir(join(dir, "k0s-kubelet"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function propagationTitle(args: string[], env: Record<string, string>): Promise<string> {
  const argv = [
    "doctor",
    "--node",
    "--json",
    "--node-id",
    "n",
    "--transport",
    "loop",
    "--loop-root",
    join(dir, "loop-root"),
  ];
  const run = await promisify(execFile)(BIN, [...argv, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
  }).catch((err: { stdout: string }) => err); // exit status 1 when some check of this machine fails
  const report = JSON.parse(run.stdout) as { checks: { id: string; title: string }[] };
  const check = report.checks.find((c) => c.id === PROPAGATION);
  if (!check) throw new Error(`no ${PROPAGATION} check in ${run.stdout}`);
  return check.title;
}

describe("doctor --node: the kubelet directory", () => {
  it("comes from RDS_CSI_KUBELET_DIR (set by the chart) when --kubelet-dir is not given", async () => {
    const k0s = join(dir, "k0s-kubelet");
    expect(await propagationTitle([], { RDS_CSI_KUBELET_DIR: k0s })).toContain(`(${k0s})`);
  });

  it("--kubelet-dir wins over the environment; without either it is /var/lib/kubelet", async () => {
    expect(await propagationTitle(["--kubelet-dir", dir], { RDS_CSI_KUBELET_DIR: "/nowhere" })).toContain(
      `(${dir})`,
    );
    expect(await propagationTitle([], {})).toContain("(/var/lib/kubelet)");
  });
});
