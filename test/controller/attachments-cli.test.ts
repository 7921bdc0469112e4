// `rds-csi attachments list|release`, the real executable against the simulator: outside a cluster
// this is how an operator clears an attachment that a lost ControllerUnpublishVolume left behind.
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeRecord } from "../../src/controller/volume-record.ts";
import { codeOf, GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();
const BIN = resolve(import.meta.dirname, "../../bin/rds-csi");
const VOL = "pvc-0000c11a-0000-4000-8000-000000000000";

/** Asynchronous: the simulator runs in this process and must keep answering. */
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const flags = ["--volume-path", "storage-pool/k8s", ...env().rds.driverFlags()];
  const child = spawn(BIN, ["attachments", ...args, ...flags]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((res) => child.on("close", (status) => res({ status, stdout, stderr })));
}

describe("rds-csi attachments", () => {
  it("lists recorded attachments and releases one, after which DeleteVolume works", async () => {
    const c = env().csi.controller;
    await c.CreateVolume({
      name: VOL,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
    });
    await c.ControllerPublishVolume({ volume_id: VOL, node_id: "node-a", volume_capability: mountCap() });

    const listed = await cli("list", "--json");
    expect(listed.stderr).toBe("");
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        volume: VOL,
        node: "node-a",
        generation: 1,
        access: "single-node read-write",
      }),
    ]);
    expect((await cli("list")).stdout).toMatch(
      new RegExp(`^VOLUME\\s+NODE\\s+ACCESS\\s+GENERATION\\s+NAME\\n${VOL}\\s+node-a`),
    );

    expect((await cli("release", "--volume", VOL)).status).toBe(2); // --node or --all-nodes is required
    const wrong = await cli("release", "--volume", VOL, "--node", "node-b");
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/no attachment to node node-b/);
    const released = await cli("release", "--volume", VOL, "--node", "node-a");
    expect(released.status).toBe(0);
    expect(released.stdout).toBe(`released ${VOL} from node-a\n`);
    expect(decodeRecord((await env().client.getDisk(VOL))!.comment)?.attachments).toEqual([]);
    expect((await cli("list")).stdout).toBe("no attachments recorded\n");
    expect(await codeOf(c.DeleteVolume({ volume_id: VOL }))).toBe("OK");
  });

  it("--help describes every flag with its default, like the other subcommands", () => {
    const r = spawnSync(BIN, ["attachments", "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    for (const flag of ["--json", "--volume ID", "--node ID", "--all-nodes", "--help", "--rds-address"])
      expect(r.stdout).toContain(`  ${flag}`);
    expect(r.stdout).toMatch(/--all-nodes\n.*\n\s+default: off; no environment variable/);
  });
});
