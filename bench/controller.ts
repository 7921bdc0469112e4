// Controller benchmark (issue: driver overhead < 15%): CreateVolume+DeleteVolume through the whole
// driver (gRPC over a unix socket → controller → SSH client → simulator) against the very same RouterOS
// commands sent with raw ssh2 exec on a warm connection, interleaved in one run; then 100 concurrent
// CreateVolume calls. Run: npm run bench -- controller
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { createControllerService } from "../src/controller/controller-service.ts";
import { StaticNodeRegistry } from "../src/controller/node-registry.ts";
import { connectCsi } from "../src/csi/client.ts";
import { createIdentityService } from "../src/csi/identity.ts";
import { CsiServer } from "../src/csi/server.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { createRdsClient } from "../src/rds/client.ts";
import { startEmbeddedRds } from "../src/sim/embedded.ts";
import { fmtMs, interleaved, median, percentile } from "./stats.ts";

const GiB = 1024 ** 3;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 60);

function rawExec(conn: ssh2.Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    conn.exec(command, (err, stream) => {
      if (err) return reject(err);
      let out = "";
      stream.on("data", (d: Buffer) => {
        out += d.toString("utf8");
      });
      stream.stderr.on("data", () => {});
      stream.on("close", () => resolve(out));
    });
  });
}

export async function benchController(): Promise<void> {
  const rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 1000 * GiB }] });
  const dir = mkdtempSync(join(tmpdir(), "bench-ctl-"));
  const client = createRdsClient(
    {
      host: rds.sim.host,
      port: rds.sim.port,
      user: rds.user,
      privateKey: rds.privateKey,
      hostKey: rds.sim.hostKeyFingerprint,
    },
    silentLogger,
  );
  const controller = createControllerService({
    rds: client,
    log: silentLogger,
    nodes: new StaticNodeRegistry(["n1"]),
    driverName: "rds.csi.mikrotik.com",
    volumePath: "storage-pool/bench",
    nqnPrefix: "nqn.2026-01.com.mikrotik.rds-csi",
    nvmeAddress: "127.0.0.1",
    nvmePort: 4420,
  });
  const server = new CsiServer(
    {
      identity: createIdentityService({
        driverName: "rds.csi.mikrotik.com",
        hasController: true,
        readinessChecks: [],
      }),
      controller,
    },
    silentLogger,
  );
  const endpoint = await server.listen(`unix://${join(dir, "csi.sock")}`);
  const csi = connectCsi(endpoint);
  const raw = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    raw
      .once("ready", resolve)
      .once("error", reject)
      .connect({
        host: rds.sim.host,
        port: rds.sim.port,
        username: `${rds.user}+ct`,
        privateKey: rds.privateKey,
      });
    // Same socket setting as the driver's client: a fair baseline, not one slowed by Nagle.
    (raw as unknown as { _sock?: { setNoDelay(on: boolean): void } })._sock?.setNoDelay(true);
  });

  const name = "pvc-0b0b0b0b-0000-4000-8000-00000000beef";
  const req = {
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [{ block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" as const } }],
  };
  const driverCycle = async () => {
    await csi.controller.CreateVolume(req);
    await csi.controller.DeleteVolume({ volume_id: name });
  };

  console.log("\n## Controller: CreateVolume + DeleteVolume, driver vs raw ssh2 exec of the same commands");
  console.log(
    `${ITERATIONS} interleaved iterations per scenario; the simulator's per-command latency is injected.\n`,
  );
  console.log(
    "| simulator latency / command | driver median | raw median | driver p90 | raw p90 | overhead (median) |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const latencyMs of [0, 2, 10]) {
    rds.sim.faults.clear();
    if (latencyMs) rds.sim.faults.latency(latencyMs);
    for (let i = 0; i < 3; i++) await driverCycle(); // warm: connection up, directory known
    const from = rds.sim.commandLog.length;
    await driverCycle();
    const commands = rds.sim.commandLog.slice(from).map((e) => e.command);
    const rawCycle = async () => {
      for (const c of commands) await rawExec(raw, c);
    };
    const { a: driver, b: rawTimes } = await interleaved(ITERATIONS, driverCycle, rawCycle);
    const overhead = (median(driver) / median(rawTimes) - 1) * 100;
    console.log(
      `| ${latencyMs} ms (${commands.length} commands) | ${fmtMs(median(driver))} | ${fmtMs(median(rawTimes))} | ${fmtMs(percentile(driver, 90))} | ${fmtMs(percentile(rawTimes, 90))} | ${overhead >= 0 ? "+" : ""}${overhead.toFixed(1)}% |`,
    );
  }
  rds.sim.faults.clear();

  console.log("\n## Controller: 100 concurrent CreateVolume calls (distinct names), then 100 DeleteVolume\n");
  const names = Array.from(
    { length: 100 },
    (_, i) => `pvc-${i.toString(16).padStart(8, "0")}-1111-4000-8000-000000000000`,
  );
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    names.map((n) => csi.controller.CreateVolume({ ...req, name: n }).catch(() => void errors++)),
  );
  const createMs = performance.now() - t0;
  const t1 = performance.now();
  await Promise.all(
    names.map((n) => csi.controller.DeleteVolume({ volume_id: n }).catch(() => void errors++)),
  );
  const deleteMs = performance.now() - t1;
  const disks = (await client.listDisks("pvc-")).length;
  console.log(
    "| calls | wall time | throughput | errors | disks left after delete | max concurrent SSH channels |",
  );
  console.log("|---|---|---|---|---|---|");
  console.log(
    `| 100 CreateVolume | ${fmtMs(createMs)} | ${(100 / (createMs / 1000)).toFixed(1)} /s | ${errors} | | ${rds.sim.stats.maxConcurrentChannels} |`,
  );
  console.log(
    `| 100 DeleteVolume | ${fmtMs(deleteMs)} | ${(100 / (deleteMs / 1000)).toFixed(1)} /s | ${errors} | ${disks} | ${rds.sim.stats.maxConcurrentChannels} |`,
  );

  raw.end();
  csi.close();
  await server.shutdown(1000);
  await client.close();
  await rds.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(rds.dataDir, { recursive: true, force: true });
}
