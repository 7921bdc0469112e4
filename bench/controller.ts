// Controller benchmark (issue: driver overhead < 15%): CreateVolume+DeleteVolume through the whole
// driver (gRPC over a unix socket → controller → SSH client → simulator) against the very same RouterOS
// commands sent with raw ssh2 exec on a warm connection, interleaved in one run; then 100 concurrent
// CreateVolume calls. The simulator runs in its own process, as an appliance would: sharing the driver's
// event loop would measure the two competing for one thread. Run: npm run bench -- controller
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ssh2 from "ssh2";
import type { CsiClient } from "../src/csi/client.ts";
import { startEmbeddedRds } from "../src/sim/embedded.ts";
import { generateEd25519KeyPair } from "../src/sim/host-key.ts";
import { type ServedController, serveController } from "./harness.ts";
import { fmtMs, interleaved, median, percentile } from "./stats.ts";

const GiB = 1024 ** 3;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 60);
const ROOT = resolve(import.meta.dirname, "..");
const NAME = "pvc-0b0b0b0b-0000-4000-8000-00000000beef";
const REQ = {
  name: NAME,
  capacity_range: { required_bytes: String(GiB) },
  volume_capabilities: [{ block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" as const } }],
};

type Driver = ServedController;

const startDriver = (
  dir: string,
  rds: { host: string; port: number; fingerprint: string; privateKey: string },
) =>
  serveController(dir, {
    host: rds.host,
    port: rds.port,
    user: "rds-csi",
    privateKey: rds.privateKey,
    hostKey: rds.fingerprint,
  });

const cycle = (csi: CsiClient) => async () => {
  await csi.controller.CreateVolume(REQ);
  await csi.controller.DeleteVolume({ volume_id: NAME });
};

/** The exact command lines the driver sends for one steady-state cycle (captured on an in-process simulator). */
async function captureCommands(): Promise<string[]> {
  const rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 1000 * GiB }] });
  const dir = mkdtempSync(join(tmpdir(), "bench-cap-"));
  const d = await startDriver(dir, {
    host: rds.sim.host,
    port: rds.sim.port,
    fingerprint: rds.sim.hostKeyFingerprint,
    privateKey: rds.privateKey,
  });
  for (let i = 0; i < 2; i++) await cycle(d.csi)(); // steady state: the volume directory is known
  const from = rds.sim.commandLog.length;
  await cycle(d.csi)();
  const commands = rds.sim.commandLog.slice(from).map((e) => e.command);
  await d.stop();
  await rds.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(rds.dataDir, { recursive: true, force: true });
  return commands;
}

async function startSimProcess(dataDir: string, authorizedKeys: string, latencyMs: number) {
  const child: ChildProcess = spawn(
    join(ROOT, "bin", "rds-csi"),
    [
      "sim",
      "--listen",
      "127.0.0.1:0",
      "--data",
      dataDir,
      "--authorized-keys",
      authorizedKeys,
      "--pool",
      "storage-pool:1000G:xfs",
      "--latency-ms",
      String(latencyMs),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((ok, fail) => {
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(/rds-csi sim ready [^\n]*/);
      if (m) ok(m[0]);
    });
    child.once("exit", (code) => fail(new Error(`simulator exited with ${code}`)));
  });
  const m = line.match(/host=(\S+) port=(\d+) fingerprint=(\S+)/);
  if (!m) throw new Error(`unexpected simulator banner: ${line}`);
  return {
    host: m[1]!,
    port: Number(m[2]),
    fingerprint: m[3]!,
    stop: () =>
      new Promise<void>((done) => {
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}

function rawExec(conn: ssh2.Client, command: string): Promise<void> {
  return new Promise((ok, fail) => {
    conn.exec(command, (err, stream) => {
      if (err) return fail(err);
      stream.on("data", () => {});
      stream.stderr.on("data", () => {});
      stream.on("close", () => ok());
    });
  });
}

async function scenario(latencyMs: number, commands: string[], throughput: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-ctl-"));
  const keys = generateEd25519KeyPair("bench");
  writeFileSync(join(dir, "authorized_keys"), `${keys.public}\n`);
  const sim = await startSimProcess(join(dir, "rds"), join(dir, "authorized_keys"), latencyMs);
  const d = await startDriver(dir, { ...sim, privateKey: keys.private });
  const raw = new ssh2.Client();
  await new Promise<void>((ok, fail) => {
    raw
      .once("ready", ok)
      .once("error", fail)
      .connect({ host: sim.host, port: sim.port, username: "rds-csi+ct", privateKey: keys.private });
    // Same socket setting as the driver's client: a fair baseline, not one slowed by Nagle.
    (raw as unknown as { _sock?: { setNoDelay(on: boolean): void } })._sock?.setNoDelay(true);
  });
  try {
    const driverCycle = cycle(d.csi);
    const rawCycle = async () => {
      for (const c of commands) await rawExec(raw, c);
    };
    for (let i = 0; i < 3; i++) {
      await driverCycle();
      await rawCycle();
    }
    const { a: driver, b: rawTimes } = await interleaved(ITERATIONS, driverCycle, rawCycle);
    const overhead = (median(driver) / median(rawTimes) - 1) * 100;
    console.log(
      `| ${latencyMs} ms (${commands.length} commands) | ${fmtMs(median(driver))} | ${fmtMs(median(rawTimes))} | ${fmtMs(percentile(driver, 90))} | ${fmtMs(percentile(rawTimes, 90))} | ${overhead >= 0 ? "+" : ""}${overhead.toFixed(1)}% |`,
    );
    if (throughput) await concurrentCreates(d);
  } finally {
    raw.end();
    await d.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

let throughputReport = "";

async function concurrentCreates(d: Driver): Promise<void> {
  const names = Array.from(
    { length: 100 },
    (_, i) => `pvc-${i.toString(16).padStart(8, "0")}-1111-4000-8000-000000000000`,
  );
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    names.map((n) => d.csi.controller.CreateVolume({ ...REQ, name: n }).catch(() => void errors++)),
  );
  const createMs = performance.now() - t0;
  const created = (await d.client.listDisks("pvc-")).length;
  const t1 = performance.now();
  await Promise.all(
    names.map((n) => d.csi.controller.DeleteVolume({ volume_id: n }).catch(() => void errors++)),
  );
  const deleteMs = performance.now() - t1;
  const left = (await d.client.listDisks("pvc-")).length;
  throughputReport = [
    "| calls | wall time | throughput | errors | disks afterwards |",
    "|---|---|---|---|---|",
    `| 100 CreateVolume | ${fmtMs(createMs)} | ${(100 / (createMs / 1000)).toFixed(1)} /s | ${errors} | ${created} |`,
    `| 100 DeleteVolume | ${fmtMs(deleteMs)} | ${(100 / (deleteMs / 1000)).toFixed(1)} /s | ${errors} | ${left} |`,
  ].join("\n");
}

export async function benchController(): Promise<void> {
  const commands = await captureCommands();
  console.log("\n## Controller: CreateVolume + DeleteVolume, driver vs raw ssh2 exec of the same commands");
  console.log(
    `${ITERATIONS} interleaved iterations per scenario; the simulator runs in its own process, with a per-command latency injected.\n`,
  );
  console.log(
    "| simulator latency / command | driver median | raw median | driver p90 | raw p90 | overhead (median) |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const latencyMs of (process.env.BENCH_LATENCIES ?? "0,2,10").split(",").map(Number))
    await scenario(latencyMs, commands, latencyMs === 0);
  console.log(
    "\n## Controller: 100 concurrent CreateVolume calls (distinct names), then 100 DeleteVolume (no injected latency)\n",
  );
  console.log(throughputReport);
}
