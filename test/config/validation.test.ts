// What the configuration accepts and refuses, value by value, from flags, environment and the JSON file.
// The validation was written with zod until issue 15 (node plugin memory) and is plain code since: these
// cases passed against both, so the switch kept every rule (and each refusal names its flag).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load.ts";

const controller = ["--rds-address", "10.0.0.1", "--rds-key-file", "/k", "--rds-host-key", "SHA256:abc"];
const node = ["--node-id", "n1"];

const fromFile = (obj: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), "cfg-"));
  const file = join(dir, "c.json");
  writeFileSync(file, JSON.stringify(obj));
  try {
    return loadConfig("node", ["--config", file, ...node], {});
  } finally {
    rmSync(dir, { recursive: true });
  }
};

describe("configuration values", () => {
  it("has the documented defaults", () => {
    const c = loadConfig("node", node, {});
    expect(c).toMatchObject({
      mode: "node",
      endpoint: "unix:///csi/csi.sock",
      driverName: "rds.csi.mikrotik.com",
      nodeId: "n1",
      logLevel: "info",
      drainTimeoutMs: 30_000,
      rdsPort: 22,
      rdsUser: "rds-csi",
      rdsInsecureSkipHostKeyCheck: false,
      rdsMaxChannels: 4,
      rdsCommandTimeoutMs: 30_000,
      volumePath: "storage-pool/rds-csi",
      nqnPrefix: "nqn.2026-01.com.mikrotik.rds-csi",
      nvmePort: 4420,
      knownNodes: [],
      attachmentReconcileSeconds: 300,
      transport: "nvme-tcp",
      maxVolumesPerNode: 0,
      execHelpers: true,
    });
    for (const k of ["metricsAddress", "rdsAddress", "instanceId", "applianceName", "loopRoot", "hostNqn"])
      expect(c, k).not.toHaveProperty(k);
  });

  it("turns numbers, switches and lists from text into values", () => {
    const c = loadConfig(
      "controller",
      [...controller, "--rds-port", "2222", "--known-nodes", " a, b ,,c", "--rds-max-channels", "32"],
      { RDS_CSI_EXEC_HELPERS: "yes", RDS_CSI_DRAIN_TIMEOUT_MS: "0" },
    );
    expect(c.rdsPort).toBe(2222);
    expect(c.rdsMaxChannels).toBe(32);
    expect(c.knownNodes).toEqual(["a", "b", "c"]);
    expect(c.execHelpers).toBe(true);
    expect(c.drainTimeoutMs).toBe(0);
    for (const [text, value] of [
      ["true", true],
      ["1", true],
      ["yes", true],
      ["false", false],
      ["0", false],
      ["no", false],
    ] as const)
      expect(loadConfig("node", [...node, `--exec-helpers=${text}`], {}).execHelpers, text).toBe(value);
  });

  it("takes JSON values of the right type from the file", () => {
    const c = fromFile({ rdsPort: 2200, execHelpers: false, knownNodes: ["x", "y"], logLevel: "warn" });
    expect(c.rdsPort).toBe(2200);
    expect(c.execHelpers).toBe(false);
    expect(c.knownNodes).toEqual(["x", "y"]);
    expect(c.logLevel).toBe("warn");
  });

  const refused: Array<[string, string[], Record<string, string>?]> = [
    ["--rds-port", ["--rds-port", "0"]],
    ["--rds-port", ["--rds-port", "65536"]],
    ["--rds-port", ["--rds-port", "22.5"]],
    ["--rds-port", ["--rds-port", "ssh"]],
    ["--nvme-port", ["--nvme-port=-1"]],
    ["--rds-max-channels", ["--rds-max-channels", "0"]],
    ["--rds-max-channels", ["--rds-max-channels", "33"]],
    ["--rds-command-timeout-ms", ["--rds-command-timeout-ms", "99"]],
    ["--drain-timeout-ms", ["--drain-timeout-ms=-5"]],
    ["--attachment-reconcile-seconds", ["--attachment-reconcile-seconds", "86401"]],
    ["--max-volumes-per-node", ["--max-volumes-per-node=-1"]],
    ["--log-level", ["--log-level", "verbose"]],
    ["--transport", ["--transport", "iscsi"]],
    ["--driver-name", ["--driver-name=-bad"]],
    ["--driver-name", ["--driver-name", `a${"b".repeat(63)}`]],
    ["--rds-user", ["--rds-user", "root;reboot"]],
    ["--volume-path", ["--volume-path", "pool"]],
    ["--volume-path", ["--volume-path", "pool/../x"]],
    ["--volume-path", ["--volume-path", 'pool/a"b']],
    ["--nqn-prefix", ["--nqn-prefix", "iqn.2026-01.com.x"]],
    ["--instance-id", ["--instance-id", "a b"]],
    ["--instance-id", ["--instance-id", "x".repeat(129)]],
    ["--appliance-name", ["--appliance-name", "rds 1"]],
    ["--node-id", ["--node-id", "n".repeat(129)]],
    ["--exec-helpers", ["--exec-helpers", "maybe"]],
    ["--endpoint", ["--endpoint", ""]],
    ["--rds-insecure-skip-host-key-check", [], { RDS_CSI_RDS_INSECURE_SKIP_HOST_KEY_CHECK: "sure" }],
  ];
  for (const [flag, argv, env] of refused)
    it(`refuses ${flag} ${argv.at(-1) ?? JSON.stringify(env)}`, () => {
      expect(() => loadConfig("controller", [...controller, ...argv], env ?? {})).toThrow(ConfigError);
      expect(() => loadConfig("controller", [...controller, ...argv], env ?? {})).toThrow(
        new RegExp(`^invalid configuration: ${flag}: `),
      );
    });

  it("refuses JSON values of the wrong type", () => {
    expect(() => fromFile({ knownNodes: ["a", ""] })).toThrow(/--known-nodes/);
    expect(() => fromFile({ knownNodes: [1] })).toThrow(/--known-nodes/);
    expect(() => fromFile({ hostNqn: 7 })).toThrow(/--host-nqn/);
    expect(() => fromFile({ execHelpers: "maybe" })).toThrow(/--exec-helpers/);
    expect(() => fromFile({ rdsPort: 22.5 })).toThrow(/--rds-port/);
    expect(() => fromFile({ rdsPort: null })).toThrow(/--rds-port/);
    expect(() => fromFile({ metricsAddress: null })).toThrow(/--metrics-address/);
    expect(() => fromFile({ logLevel: ["info"] })).toThrow(/--log-level/);
    expect(() => fromFile({ bogus: 1 })).toThrow(/unknown key "bogus"/);
  });

  it("requires what each mode needs, naming the flag", () => {
    expect(() => loadConfig("controller", [], {})).toThrow(/^invalid configuration: --rds-address: /);
    expect(() => loadConfig("controller", ["--rds-address", "a"], {})).toThrow(/--rds-key-file/);
    expect(() => loadConfig("all", controller, {})).toThrow(/--node-id/);
    expect(() => loadConfig("node", [...node, "--transport", "loop"], {})).toThrow(/--loop-root/);
    expect(loadConfig("node", [...node, "--transport", "loop", "--loop-root", "/r"], {}).loopRoot).toBe("/r");
  });

  it("relaxed: checks values but not what a mode requires", () => {
    expect(loadConfig("controller", [], {}, { relaxed: true }).rdsAddress).toBeUndefined();
    expect(() => loadConfig("controller", ["--rds-port", "0"], {}, { relaxed: true })).toThrow(/--rds-port/);
  });
});
