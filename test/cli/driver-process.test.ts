// The real executable: configuration from flags, environment and a JSON file; one clear line for bad
// configuration; a controller process against the simulator that answers, then stops cleanly on SIGTERM.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { connectCsi } from "../../src/csi/client.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";

const BIN = resolve(import.meta.dirname, "../../bin/rds-csi");

describe("configuration", () => {
  const base = ["--rds-address", "10.0.0.1", "--rds-key-file", "/k", "--rds-host-key", "SHA256:abc"];
  it("takes flags over environment over config file over defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ volumePath: "from-file/x", rdsPort: 2200, logLevel: "debug" }));
    const c = loadConfig("controller", [...base, "--config", file, "--rds-port", "2222"], {
      RDS_CSI_VOLUME_PATH: "from-env/y",
      RDS_CSI_RDS_PORT: "2201",
    });
    expect(c.rdsPort).toBe(2222);
    expect(c.volumePath).toBe("from-env/y");
    expect(c.logLevel).toBe("debug");
    expect(c.driverName).toBe("rds.csi.mikrotik.com");
    rmSync(dir, { recursive: true });
  });
  it("refuses to run without a pinned host key unless insecure mode is explicit", () => {
    expect(() => loadConfig("controller", ["--rds-address", "a", "--rds-key-file", "/k"], {})).toThrow(
      /--rds-host-key/,
    );
    expect(
      loadConfig(
        "controller",
        ["--rds-address", "a", "--rds-key-file", "/k", "--rds-insecure-skip-host-key-check"],
        {},
      ).rdsInsecureSkipHostKeyCheck,
    ).toBe(true);
  });
  it("exec helpers are on by default and can be turned off by flag or environment", () => {
    const node = ["--node-id", "n1"];
    expect(loadConfig("node", node, {}).execHelpers).toBe(true);
    expect(loadConfig("node", [...node, "--exec-helpers=false"], {}).execHelpers).toBe(false);
    expect(loadConfig("node", node, { RDS_CSI_EXEC_HELPERS: "no" }).execHelpers).toBe(false);
    expect(() => loadConfig("node", [...node, "--exec-helpers=maybe"], {})).toThrow(/--exec-helpers/);
  });
  it("names the flag in the error", () => {
    expect(() => loadConfig("controller", [...base, "--rds-port", "99999"], {})).toThrow(ConfigError);
    expect(() => loadConfig("controller", [...base, "--rds-port", "99999"], {})).toThrow(/--rds-port/);
    expect(() => loadConfig("node", [], {})).toThrow(/--node-id/);
    expect(() => loadConfig("node", ["--bogus"], {})).toThrow(/bogus/);
  });
  it("prints one line and exits 2 on invalid configuration", () => {
    const r = spawnSync(BIN, ["controller", "--rds-address", "x"], {
      encoding: "utf8",
      env: { ...process.env, RDS_CSI_RDS_KEY_FILE: "" },
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^rds-csi controller: invalid configuration: --rds-key-file/);
  });
});

describe("rds-csi controller process", () => {
  let rds: EmbeddedRds;
  let dir: string;
  beforeAll(async () => {
    rds = await startEmbeddedRds({});
    dir = mkdtempSync(join(tmpdir(), "proc-"));
  });
  afterAll(async () => {
    await rds.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(rds.dataDir, { recursive: true, force: true });
  });

  it("serves Probe against the RDS, then drains and removes its socket on SIGTERM", async () => {
    const sock = join(dir, "csi.sock");
    const child = spawn(
      BIN,
      [
        "controller",
        "--endpoint",
        `unix://${sock}`,
        "--known-nodes",
        "n1",
        "--volume-path",
        "storage-pool/k8s",
        ...rds.driverFlags(),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const csi = connectCsi(`unix://${sock}`);
    const probe = await csi.identity.Probe({});
    expect(probe.ready?.value).toBe(true);
    const info = await csi.identity.GetPluginInfo({});
    expect(info.name).toBe("rds.csi.mikrotik.com");
    csi.close();
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(out).toContain('"msg":"CSI server stopped"');
  });
});

describe("rds-csi node on a machine where its transport cannot work", () => {
  it("stays up, fails Probe and every Node RPC but NodeGetInfo with the reason, and serves once the problem is fixed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "node-notready-"));
    const sock = join(dir, "csi.sock");
    const loopRoot = join(dir, "rds"); // does not exist yet: the loop transport's check fails
    const child = spawn(
      BIN,
      [
        "node",
        "--endpoint",
        `unix://${sock}`,
        "--node-id",
        "n1",
        "--transport",
        "loop",
        "--loop-root",
        loopRoot,
        "--appliance-name",
        "rds-1",
      ],
      { stdio: "ignore" },
    );
    try {
      for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const csi = connectCsi(`unix://${sock}`);
      await expect(csi.identity.Probe({})).rejects.toMatchObject({
        code: 9,
        details: expect.stringMatching(/not ready: .*loop root .* is not a directory/),
      });
      await expect(csi.node.NodeStageVolume({})).rejects.toMatchObject({ code: 9 });
      // Registration must succeed (node-driver-registrar exits when it fails, and the pod crash-loops), but
      // without the appliance's segment: no appliance label, so no capacity-tracked volume lands here.
      const before = await csi.node.NodeGetInfo({});
      expect(before.node_id).toBe("n1");
      expect(before.accessible_topology).toBeNull();
      expect(child.exitCode).toBeNull();
      mkdirSync(loopRoot);
      expect((await csi.identity.Probe({})).ready?.value).toBe(true);
      const after = await csi.node.NodeGetInfo({});
      expect(after.node_id).toBe("n1");
      expect(after.accessible_topology?.segments).toEqual({ "rds.csi.mikrotik.com/appliance": "rds-1" });
      csi.close();
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
