// `rds-csi doctor` controller checks against the RouterOS simulator over real SSH. The simulator has no
// users or groups, so "not enough permissions" is injected as the RouterOS error text (faults.failNext);
// everything else is the simulator behaving as configured (version, packages, pools, keys).
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.ts";
import { runDoctor } from "../../src/doctor/doctor.ts";
import type { CheckReport } from "../../src/doctor/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createRdsClient } from "../../src/rds/client.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { generateEd25519KeyPair } from "../../src/sim/host-key.ts";
import type { SimulatorOptions } from "../../src/sim/types.ts";

const BIN = join(import.meta.dirname, "..", "..", "bin", "rds-csi");
const CONTROLLER_IDS = [
  "rds.tcp",
  "rds.host-key",
  "rds.auth",
  "rds.version",
  "rds.rose-storage",
  "rds.pool",
  "rds.volume-path",
  "rds.free-space",
  "rds.write-permission",
];

let rds: EmbeddedRds | undefined;
afterEach(async () => {
  await rds?.close();
  if (rds) rmSync(rds.dataDir, { recursive: true, force: true });
  rds = undefined;
});

async function sim(opts: Partial<SimulatorOptions> = {}): Promise<EmbeddedRds> {
  rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 100 * 1024 ** 3 }], ...opts });
  return rds;
}

/** Runs the controller checks with the flags the driver would get, plus extra ones. */
async function doctor(
  r: EmbeddedRds,
  extra: string[] = [],
  flags = r.driverFlags(),
): Promise<Map<string, CheckReport>> {
  const config = loadConfig("controller", [...flags, ...extra], {}, { relaxed: true });
  const reports = await runDoctor({ config, scope: { controller: true, node: false } });
  return new Map(reports.map((x) => [x.id, x]));
}

const statuses = (m: Map<string, CheckReport>) => Object.fromEntries([...m].map(([id, r]) => [id, r.status]));

async function makeVolumeDir(r: EmbeddedRds, path: string): Promise<void> {
  const c = createRdsClient(
    {
      host: r.sim.host,
      port: r.sim.port,
      user: r.user,
      privateKey: r.privateKey,
      hostKey: r.sim.hostKeyFingerprint,
    },
    silentLogger,
  );
  await c.ensureDirectory(path);
  await c.close();
}

/** `/file` and `/disk` commands the doctor left behind would show up here. */
async function leftovers(r: EmbeddedRds): Promise<string[]> {
  const c = createRdsClient(
    {
      host: r.sim.host,
      port: r.sim.port,
      user: r.user,
      privateKey: r.privateKey,
      hostKey: r.sim.hostKeyFingerprint,
    },
    silentLogger,
  );
  const files = (await c.listFiles("storage-pool/")).map((f) => f.name).filter((n) => n.includes("doctor"));
  const disks = (await c.listDisks("rds-csi-doctor")).map((d) => d.slot);
  await c.close();
  return [...files, ...disks];
}

describe("doctor: controller checks against the simulator", () => {
  it("all checks pass on a healthy RDS with the volume directory in place, and the write probe cleans up", async () => {
    const r = await sim();
    await makeVolumeDir(r, "storage-pool/k8s");
    const m = await doctor(r, ["--volume-path", "storage-pool/k8s"]);
    expect([...m.keys()]).toEqual(CONTROLLER_IDS);
    expect(statuses(m)).toEqual(Object.fromEntries(CONTROLLER_IDS.map((id) => [id, "ok"])));
    expect(m.get("rds.host-key")?.detail).toBe(
      `the RDS presented ${r.sim.hostKeyFingerprint}, which matches the pin`,
    );
    expect(m.get("rds.auth")?.detail).toBe("logged in as rds-csi+ct");
    expect(m.get("rds.version")?.detail).toBe("RouterOS 7.24.1 on RDS2216");
    expect(m.get("rds.pool")?.detail).toBe("disk storage-pool mounted at storage-pool (xfs, 100.0 GiB)");
    expect(m.get("rds.free-space")?.detail).toBe("100.0 GiB free of 100.0 GiB (100.0%)");
    expect(m.get("rds.write-permission")?.detail).toMatch(
      /^created and removed directory storage-pool\/k8s\/rds-csi-doctor-[0-9a-f]{8} and a 1 MiB file disk rds-csi-doctor-[0-9a-f]{8} \(not exported\)$/,
    );
    // The probe really wrote (a /disk add with file-size, then removals), and nothing is left.
    const commands = r.sim.commandLog.map((e) => e.command);
    expect(
      commands.some((c) => /\/disk add .*slot="?rds-csi-doctor-/.test(c) && c.includes("nvme-tcp-export=no")),
    ).toBe(true);
    expect(commands.some((c) => /\/disk remove \[find where slot="rds-csi-doctor-/.test(c))).toBe(true);
    expect(await leftovers(r)).toEqual([]);
  });

  it("a volume directory that does not exist yet is a warning, and the write probe uses the pool root", async () => {
    const r = await sim();
    const m = await doctor(r);
    expect(m.get("rds.volume-path")).toMatchObject({
      status: "warn",
      detail: "storage-pool/rds-csi does not exist yet; the controller creates it at the first CreateVolume",
    });
    expect(m.get("rds.write-permission")?.status).toBe("ok");
    expect(m.get("rds.write-permission")?.detail).toMatch(/directory storage-pool\/rds-csi-doctor-/);
    expect(await leftovers(r)).toEqual([]);
  });

  it("a wrong pinned host key fails with the fix, and nothing is attempted after it", async () => {
    const r = await sim();
    const other = generateEd25519KeyPair("someone-else");
    const flags = r.driverFlags();
    flags[flags.indexOf("--rds-host-key") + 1] = other.public;
    const m = await doctor(r, [], flags);
    const hk = m.get("rds.host-key")!;
    expect(hk.status).toBe("fail");
    expect(hk.detail).toMatch(
      new RegExp(
        `^the RDS presented ${reEscape(r.sim.hostKeyFingerprint)} but SHA256:\\S+ is pinned: the driver refuses to connect$`,
      ),
    );
    expect(hk.fix).toContain("/ip/ssh/export-host-key");
    expect(hk.fix).toContain("do not unpin");
    expect(m.get("rds.tcp")?.status).toBe("ok");
    expect(m.get("rds.auth")).toMatchObject({
      status: "skip",
      detail: "the host key was refused, so no login was attempted",
    });
    for (const id of CONTROLLER_IDS.slice(3)) expect(m.get(id)?.status, id).toBe("skip");
    // Refused before authentication: the simulator never saw a command.
    expect(r.sim.commandLog).toEqual([]);
  });

  it("with pinning disabled the host key is a warning naming the key to pin", async () => {
    const r = await sim();
    const flags = r.driverFlags();
    flags.splice(flags.indexOf("--rds-host-key"), 2);
    const m = await doctor(r, ["--rds-insecure-skip-host-key-check"], flags);
    expect(m.get("rds.host-key")).toMatchObject({
      status: "warn",
      fix: expect.stringContaining(`--rds-host-key ${r.sim.hostKeyFingerprint}`),
    });
    expect(m.get("rds.auth")?.status).toBe("ok");
  });

  it("a client key the RDS does not know fails authentication with the import command", async () => {
    const r = await sim();
    const stranger = generateEd25519KeyPair("stranger");
    const keyFile = join(r.dataDir, "stranger");
    writeFileSync(keyFile, stranger.private, { mode: 0o600 });
    const flags = r.driverFlags();
    flags[flags.indexOf("--rds-key-file") + 1] = keyFile;
    const m = await doctor(r, [], flags);
    expect(m.get("rds.host-key")?.status).toBe("ok");
    expect(m.get("rds.auth")?.status).toBe("fail");
    expect(m.get("rds.auth")?.detail).toMatch(/^the RDS refused the key for user rds-csi: /);
    expect(m.get("rds.auth")?.fix).toContain(
      "/user/ssh-keys/import public-key-file=rds-csi.pub user=rds-csi",
    );
    expect(m.get("rds.version")).toMatchObject({ status: "skip", detail: "no SSH login to the RDS" });
  });

  it("an unreadable key file still checks the host key, then fails the login", async () => {
    const r = await sim();
    const flags = r.driverFlags();
    flags[flags.indexOf("--rds-key-file") + 1] = join(r.dataDir, "no-such-key");
    const m = await doctor(r, [], flags);
    expect(m.get("rds.host-key")?.status).toBe("ok");
    expect(m.get("rds.auth")?.status).toBe("fail");
    expect(m.get("rds.auth")?.detail).toContain(
      `cannot read --rds-key-file ${join(r.dataDir, "no-such-key")}: ENOENT`,
    );
  });

  it("a closed port fails the TCP check and skips the rest", async () => {
    const r = await sim();
    const port = await freePort();
    const flags = r.driverFlags();
    flags[flags.indexOf("--rds-port") + 1] = String(port);
    const m = await doctor(r, [], flags);
    expect(m.get("rds.tcp")?.status).toBe("fail");
    expect(m.get("rds.tcp")?.detail).toBe(
      `cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(m.get("rds.tcp")?.fix).toContain("/ip service print");
    expect(statuses(m)).toMatchObject({ "rds.host-key": "skip", "rds.auth": "skip", "rds.pool": "skip" });
  });

  it("a missing pool fails and the checks that need it are skipped", async () => {
    const r = await sim();
    const m = await doctor(r, ["--volume-path", "nopool/k8s"]);
    expect(m.get("rds.pool")).toMatchObject({
      status: "fail",
      detail: 'no disk is mounted at "nopool" (the first component of the volume path nopool/k8s)',
    });
    expect(m.get("rds.pool")?.fix).toContain("/disk print");
    expect(statuses(m)).toMatchObject({
      "rds.volume-path": "skip",
      "rds.free-space": "skip",
      "rds.write-permission": "skip",
    });
  });

  it("RouterOS older than 7.21 warns (no custom NQNs); older than 7.17 fails (no file disks)", async () => {
    let r = await sim({ version: "7.20.8" });
    let m = await doctor(r);
    expect(m.get("rds.version")?.status).toBe("warn");
    expect(m.get("rds.version")?.detail).toMatch(
      /^RouterOS 7\.20\.8 on RDS2216: custom NQNs \(nvme-tcp-server-nqn\) need 7\.21/,
    );
    await r.close();
    r = await sim({ version: "7.16.2" });
    m = await doctor(r);
    expect(m.get("rds.version")).toMatchObject({ status: "fail", fix: expect.stringContaining("7.21") });
  });

  it("a RouterOS without rose-storage fails", async () => {
    const r = await sim({ packages: ["routeros"] });
    const m = await doctor(r);
    expect(m.get("rds.rose-storage")).toMatchObject({
      status: "fail",
      detail: "rose-storage is not among the enabled packages (routeros): no file disks, no NVMe/TCP export",
    });
  });

  it("a full pool fails the free-space check", async () => {
    const r = await sim();
    r.sim.faults.diskFull(true);
    const m = await doctor(r);
    expect(m.get("rds.free-space")?.status).toBe("fail");
    expect(m.get("rds.free-space")?.detail).toMatch(
      /^0\.0 GiB free of 100\.0 GiB \(0\.0%\): new volumes will fail with RESOURCE_EXHAUSTED$/,
    );
  });

  it("a user that may not create directories fails with the group fix (permission error injected)", async () => {
    const r = await sim();
    r.sim.faults.failNext("/file add", "not enough permissions (9)");
    const m = await doctor(r);
    const w = m.get("rds.write-permission")!;
    expect(w.status).toBe("fail");
    expect(w.detail).toMatch(
      /^cannot create directory storage-pool\/rds-csi-doctor-[0-9a-f]{8}: RouterOS: not enough permissions \(9\)$/,
    );
    expect(w.fix).toContain("policy=ssh,read,write,test");
    expect(await leftovers(r)).toEqual([]);
  });

  it("a user that may create files but not disks fails, and the marker directory is removed again", async () => {
    const r = await sim();
    r.sim.faults.failNext("/disk add", "not enough permissions (9)");
    const m = await doctor(r);
    const w = m.get("rds.write-permission")!;
    expect(w.status).toBe("fail");
    expect(w.detail).toMatch(/but cannot add a file disk: RouterOS: not enough permissions \(9\)$/);
    expect(w.fix).toContain("policy=ssh,read,write,test");
    expect(await leftovers(r)).toEqual([]);
  });

  it("without the RDS flags --controller reports what is missing", async () => {
    const config = loadConfig("controller", [], {}, { relaxed: true });
    const reports = await runDoctor({ config, scope: { controller: true, node: false } });
    expect(reports.map(({ id, status, detail }) => ({ id, status, detail }))).toEqual([
      {
        id: "controller.config",
        status: "fail",
        detail: "missing --rds-address, --rds-key-file, --rds-host-key",
      },
    ]);
  });

  it("the executable: one line per check, --json, and the exit status", async () => {
    const r = await sim();
    await makeVolumeDir(r, "storage-pool/rds-csi");
    const healthy = await spawnAsync(BIN, ["doctor", ...r.driverFlags()]);
    expect(healthy.status).toBe(0);
    const lines = healthy.stdout.trim().split("\n");
    expect(lines.slice(0, CONTROLLER_IDS.length).map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual(
      CONTROLLER_IDS.map((id) => `ok ${id}`),
    );
    expect(lines.at(-1)).toBe("9 ok, 0 warnings, 0 failed, 0 skipped");

    const broken = await spawnAsync(BIN, [
      "doctor",
      "--json",
      ...r.driverFlags(),
      "--volume-path",
      "nopool/x",
    ]);
    expect(broken.status).toBe(1);
    const doc = JSON.parse(broken.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.summary).toEqual({ ok: 5, warn: 0, fail: 1, skip: 3 });
    expect(doc.checks.find((c: CheckReport) => c.id === "rds.pool")).toMatchObject({
      status: "fail",
      fix: expect.any(String),
    });

    const badFlag = await spawnAsync(BIN, ["doctor", "--no-such-flag"]);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toContain("rds-csi doctor:");
  });
});

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** The simulator runs in this process, so the child must not block the event loop (spawnSync would). */
function spawnAsync(
  file: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RDS_CSI_CONFIG: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
