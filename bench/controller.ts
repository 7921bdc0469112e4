// Controller benchmark (issue: driver overhead < 15%; issue 18: an honest cost model): CreateVolume +
// DeleteVolume through the whole driver (gRPC over a unix socket → controller → SSH client → simulator),
// interleaved in one run with raw ssh2 exec on a warm connection of (a) the very same command lines and
// (b) the minimal commands the two RPCs need (`/disk add`; `/disk remove` + `/file remove` in one exec). Each
// scenario runs the simulator under one cost model (docs/simulator.md, "Cost model"): none, a uniform
// 10 ms per command + 3 ms per exec, and the `rds-hardware` preset. Then bursts of 20 and 100 concurrent
// CreateVolume calls (no latency, and 10 ms per command + 3 ms per exec).
// The simulator runs in its own process, as an appliance would: sharing the driver's event loop would
// measure the two competing for one thread. For the same reason the driver is measured twice: as its own
// process (`bin/rds-csi controller`, as deployed: the CO, here the benchmark's gRPC client, is another
// process), and in the benchmark's process (the CSI client's encoding and decoding then run on the
// driver's thread and count against it). Run: npm run bench -- controller
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ssh2 from "ssh2";
import { type CsiClient as Csi, connectCsi } from "../src/csi/client.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { createRdsClient } from "../src/rds/client.ts";
import type { RdsClient } from "../src/rds/types.ts";
import { startEmbeddedRds } from "../src/sim/embedded.ts";
import { generateEd25519KeyPair } from "../src/sim/host-key.ts";
import { roundTrips } from "../src/sim/round-trips.ts";
import type { SimCommandLogEntry } from "../src/sim/types.ts";
import { serveController } from "./harness.ts";
import { fmtMs, interleavedMany, median, percentile } from "./stats.ts";

const GiB = 1024 ** 3;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 60);
/** A hardware-profile cycle takes seconds: fewer rounds keep the run to about a minute. */
const HW_ITERATIONS = Number(process.env.BENCH_HW_ITERATIONS ?? 15);
const ROOT = resolve(import.meta.dirname, "..");
const NAME = "pvc-0b0b0b0b-0000-4000-8000-00000000beef";
const REQ = {
  name: NAME,
  capacity_range: { required_bytes: String(GiB) },
  volume_capabilities: [{ block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" as const } }],
};

interface CostModel {
  label: string;
  simFlags: string[];
  iterations: number;
  /** Also run the bursts of concurrent creates (BURSTS) under this model. */
  throughput: boolean;
}

const MODELS: CostModel[] = [
  { label: "none", simFlags: [], iterations: ITERATIONS, throughput: true },
  {
    label: "10 ms/command + 3 ms/exec",
    simFlags: ["--latency-ms", "10", "--exec-latency-ms", "3"],
    iterations: ITERATIONS,
    throughput: true,
  },
  {
    label: "rds-hardware",
    simFlags: ["--profile", "rds-hardware"],
    iterations: HW_ITERATIONS,
    throughput: false,
  },
];

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

const cycle = (csi: Csi) => async () => {
  await csi.controller.CreateVolume(REQ);
  await csi.controller.DeleteVolume({ volume_id: NAME });
};

/**
 * What one RPC sent: its command lines (one exec each) in round trips (the lines the driver sent side by
 * side, their spans on the simulator overlapping), and the commands they ran.
 */
interface RpcTrace {
  lines: string[];
  rounds: string[][];
  commands: string[];
}

const trace = (entries: SimCommandLogEntry[]): RpcTrace => ({
  lines: entries.map((e) => e.command),
  rounds: roundTrips(entries).map((r) => r.map((e) => e.command)),
  commands: entries.flatMap((e) => e.commands),
});

interface Captured {
  create: RpcTrace;
  delete: RpcTrace;
  minimalCreate: RpcTrace;
  minimalDelete: RpcTrace;
}

/** The first command of a trace whose canonical text starts with `prefix` (what the minimal set replays). */
function commandOf(t: RpcTrace, prefix: string): string {
  const c = t.commands.find((x) => x.startsWith(prefix));
  if (!c) throw new Error(`the driver sent no ${prefix}: ${t.lines.join(" | ")}`);
  return c;
}

/**
 * The exact command lines the driver sends for one steady-state CreateVolume and DeleteVolume (captured on
 * an in-process simulator), and the minimal lines built from the commands that did the work.
 */
async function capture(): Promise<Captured> {
  const rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 1000 * GiB }] });
  const dir = mkdtempSync(join(tmpdir(), "bench-cap-"));
  const d = await startDriver(dir, {
    host: rds.sim.host,
    port: rds.sim.port,
    fingerprint: rds.sim.hostKeyFingerprint,
    privateKey: rds.privateKey,
  });
  try {
    for (let i = 0; i < 2; i++) await cycle(d.csi)(); // steady state: the volume directory is known
    // Every exec takes 5 ms while the RPCs are captured, so the execs the driver sends side by side
    // overlap on the simulator and those it sends one after another do not: the replay keeps the rounds.
    rds.sim.faults.execLatency(5);
    const log = rds.sim.commandLog;
    const a = log.length;
    await d.csi.controller.CreateVolume(REQ);
    const b = log.length;
    await d.csi.controller.DeleteVolume({ volume_id: NAME });
    const create = trace(log.slice(a, b));
    const del = trace(log.slice(b));
    rds.sim.faults.clear();
    const minimal = {
      create: [commandOf(create, "/disk add ")],
      delete: [`${commandOf(del, "/disk remove ")}; ${commandOf(del, "/file remove ")}`],
    };
    // Run the minimal lines once too, so their commands are counted by the simulator's own accounting.
    const raw = await rawConnect(rds.sim.host, rds.sim.port, rds.privateKey);
    const c = log.length;
    for (const l of minimal.create) await rawExec(raw, l);
    const e = log.length;
    for (const l of minimal.delete) await rawExec(raw, l);
    raw.end();
    const failed = log.slice(c).find((x) => x.output !== "");
    if (failed) throw new Error(`minimal command failed: ${failed.command} → ${failed.output}`);
    return { create, delete: del, minimalCreate: trace(log.slice(c, e)), minimalDelete: trace(log.slice(e)) };
  } finally {
    await d.stop();
    await rds.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(rds.dataDir, { recursive: true, force: true });
  }
}

async function startSimProcess(dataDir: string, authorizedKeys: string, flags: string[]) {
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
      ...flags,
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

/** `bin/rds-csi controller` in its own process, configured as the in-process harness (harness.ts) is. */
async function startDriverProcess(
  dir: string,
  sim: { host: string; port: number; fingerprint: string },
  keyFile: string,
): Promise<{ csi: Csi; stop(): Promise<void> }> {
  const sock = join(dir, "driver.sock");
  const child = spawn(
    join(ROOT, "bin", "rds-csi"),
    [
      "controller",
      "--endpoint",
      `unix://${sock}`,
      "--rds-address",
      sim.host,
      "--rds-port",
      String(sim.port),
      "--rds-user",
      "rds-csi",
      "--rds-key-file",
      keyFile,
      "--rds-host-key",
      sim.fingerprint,
      "--volume-path",
      "storage-pool/bench",
      "--known-nodes",
      "n1",
      "--nvme-address",
      "127.0.0.1",
    ],
    // Its log (info, the default) is written as deployed and thrown away.
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, KUBERNETES_SERVICE_HOST: "" } },
  );
  const csi = connectCsi(`unix://${sock}`);
  for (let i = 0; ; i++) {
    try {
      await csi.identity.Probe({});
      break;
    } catch (err) {
      if (i > 100 || child.exitCode !== null) throw new Error(`driver process did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    csi,
    stop: () =>
      new Promise<void>((done) => {
        csi.close();
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}

async function rawConnect(host: string, port: number, privateKey: string): Promise<ssh2.Client> {
  const raw = new ssh2.Client();
  await new Promise<void>((ok, fail) => {
    raw.once("ready", ok).once("error", fail).connect({ host, port, username: "rds-csi+ct", privateKey });
    // Same socket setting as the driver's client: a fair baseline, not one slowed by Nagle.
    (raw as unknown as { _sock?: { setNoDelay(on: boolean): void } })._sock?.setNoDelay(true);
  });
  return raw;
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

const pct = (a: number, b: number) => {
  const v = (a / b - 1) * 100;
  return `${v >= 0 ? "+" : ""}${v.toFixed(1)}%`;
};

async function scenario(model: CostModel, cap: Captured): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-ctl-"));
  const keys = generateEd25519KeyPair("bench");
  writeFileSync(join(dir, "authorized_keys"), `${keys.public}\n`);
  writeFileSync(join(dir, "id_ed25519"), keys.private, { mode: 0o600 });
  const sim = await startSimProcess(join(dir, "rds"), join(dir, "authorized_keys"), model.simFlags);
  const d = await startDriver(dir, { ...sim, privateKey: keys.private });
  const p = await startDriverProcess(dir, sim, join(dir, "id_ed25519"));
  const raw = await rawConnect(sim.host, sim.port, keys.private);
  const counter = createRdsClient(
    { host: sim.host, port: sim.port, user: "rds-csi", privateKey: keys.private, hostKey: sim.fingerprint },
    silentLogger,
  );
  try {
    // Round after round; the lines of one round side by side, as the driver sent them.
    const replay = (rounds: string[][]) => async () => {
      for (const r of rounds) await Promise.all(r.map((l) => rawExec(raw, l)));
    };
    // The floor of any driver behind gRPC: two RPCs that do nothing (GetPluginInfo answers from memory),
    // to the driver process, as a cycle's CreateVolume and DeleteVolume are.
    const emptyCalls = async () => {
      await p.csi.identity.GetPluginInfo({});
      await p.csi.identity.GetPluginInfo({});
    };
    const fns = [
      cycle(p.csi),
      cycle(d.csi),
      replay([...cap.create.rounds, ...cap.delete.rounds]),
      replay([...cap.minimalCreate.rounds, ...cap.minimalDelete.rounds]),
      emptyCalls,
    ];
    for (let i = 0; i < 2; i++) for (const f of fns) await f();
    const [process_, inProcess, same, minimal, empty] = await interleavedMany(model.iterations, fns);
    const cell = (xs: number[]) => `${fmtMs(median(xs!))} / ${fmtMs(percentile(xs!, 90))}`;
    const share = (a: number[], b: number[]) => `${((median(a) / median(b)) * 100).toFixed(1)}%`;
    console.log(
      `| ${model.label} | ${model.iterations} | ${cell(process_!)} | ${cell(inProcess!)} | ${cell(same!)} | ${cell(minimal!)} | ${cell(empty!)} | ${pct(median(process_!), median(same!))} | ${pct(median(inProcess!), median(same!))} | ${pct(median(process_!), median(minimal!))} | ${share(empty!, same!)} |`,
    );
    if (model.throughput)
      for (const n of BURSTS) {
        await concurrentCreates(p.csi, counter, `${model.label}, driver process`, n);
        await concurrentCreates(d.csi, counter, `${model.label}, in the benchmark's process`, n);
      }
  } finally {
    raw.end();
    await counter.close();
    await p.stop();
    await d.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bursts of concurrent CreateVolume calls (issue 15: 20 and 100 at 10 ms per command, default channel cap). */
const BURSTS = [20, 100];
/** Each burst is run this many times (a single burst is one noisy sample); the table shows the median. */
const BURST_ROUNDS = Number(process.env.BENCH_BURST_ROUNDS ?? 5);
const throughputRows: string[] = [];
let burstRound = 0;

async function concurrentCreates(csi: Csi, rds: RdsClient, label: string, count: number): Promise<void> {
  let errors = 0;
  let created = Number.POSITIVE_INFINITY;
  let left = 0;
  const createMs: number[] = [];
  const deleteMs: number[] = [];
  for (let r = 0; r < BURST_ROUNDS; r++) {
    const round = (burstRound++).toString(16).padStart(4, "0");
    const names = Array.from(
      { length: count },
      (_, i) => `pvc-${i.toString(16).padStart(8, "0")}-1111-4000-8000-00000000${round}`,
    );
    const t0 = performance.now();
    await Promise.all(
      names.map((n) => csi.controller.CreateVolume({ ...REQ, name: n }).catch(() => void errors++)),
    );
    createMs.push(performance.now() - t0);
    created = Math.min(created, (await rds.listDisks("pvc-")).length);
    const t1 = performance.now();
    await Promise.all(
      names.map((n) => csi.controller.DeleteVolume({ volume_id: n }).catch(() => void errors++)),
    );
    deleteMs.push(performance.now() - t1);
    left = Math.max(left, (await rds.listDisks("pvc-")).length);
  }
  const rowOf = (rpc: string, ms: number[], disks: number) => {
    const sorted = [...ms].sort((a, b) => a - b);
    const rate = (t: number) => (count / (t / 1000)).toFixed(1);
    return `| ${label} | ${count} ${rpc} | ${fmtMs(median(ms))} | ${rate(median(ms))} /s | ${rate(sorted.at(-1)!)}–${rate(sorted[0]!)} /s | ${errors} | ${disks} |`;
  };
  throughputRows.push(rowOf("CreateVolume", createMs, created), rowOf("DeleteVolume", deleteMs, left));
}

function printTraces(cap: Captured): void {
  console.log("\n## Controller: what each RPC sends (captured on the simulator, steady state)\n");
  console.log("| RPC | round trips | execs | commands | of which scripting (`:put` ...) |");
  console.log("|---|---|---|---|---|");
  const row = (label: string, t: RpcTrace) =>
    console.log(
      `| ${label} | ${t.rounds.length} | ${t.lines.length} | ${t.commands.length} | ${t.commands.filter((c) => c.startsWith(":")).length} |`,
    );
  row("CreateVolume (driver)", cap.create);
  row("DeleteVolume (driver)", cap.delete);
  row("CreateVolume (minimal)", cap.minimalCreate);
  row("DeleteVolume (minimal)", cap.minimalDelete);
  for (const [label, t] of [
    ["CreateVolume", cap.create],
    ["DeleteVolume", cap.delete],
    ["minimal CreateVolume", cap.minimalCreate],
    ["minimal DeleteVolume", cap.minimalDelete],
  ] as const) {
    console.log(`\n${label}, one exec per line, a blank line between round trips:`);
    console.log(t.rounds.map((r) => r.map((l) => `    ${l}`).join("\n")).join("\n\n"));
  }
}

export async function benchController(): Promise<void> {
  const cap = await capture();
  printTraces(cap);
  console.log("\n## Controller: CreateVolume + DeleteVolume, driver vs raw ssh2 exec, per cost model");
  console.log(
    "Interleaved iterations per model; the simulator runs in its own process under the cost model named " +
      '(docs/simulator.md, "Cost model"). Raw exec replays on one warm connection either the driver\'s own ' +
      "command lines or the minimal set (the `/disk add`; the `/disk remove` and `/file remove` in one exec). " +
      "Cells: median / p90 of one Create+Delete cycle. The driver runs as its own process (`bin/rds-csi " +
      "controller`, as deployed) and in the benchmark's process (its gRPC client then shares the driver's thread). The raw replay sends the driver's round trips one " +
      "after another, and the lines of one round trip (CreateVolume's two prints) side by side, as the driver does. " +
      "The empty calls are two GetPluginInfo RPCs to the driver process: what gRPC alone costs a cycle of two RPCs, " +
      "shown as a share of the raw cycle.\n",
  );
  console.log(
    "| cost model | iterations | driver process | driver in the benchmark's process | raw, same lines | raw, minimal set | 2 empty CSI calls to the driver process | driver process vs same | in-process driver vs same | driver process vs minimal | empty calls / raw, same lines |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const model of MODELS) await scenario(model, cap);
  console.log(
    `\n## Controller: bursts of ${BURSTS.join(" and ")} concurrent CreateVolume calls (distinct names), then as many DeleteVolume, default channel cap\n`,
  );
  console.log(
    `Each burst ${BURST_ROUNDS} times: the median wall time and its throughput, the range of the throughput, the errors ` +
      "of all rounds, and the disks afterwards (the fewest after a create round, the most after a delete round).\n",
  );
  console.log("| cost model | calls | wall time (median) | throughput | range | errors | disks afterwards |");
  console.log("|---|---|---|---|---|---|---|");
  for (const row of throughputRows) console.log(row);
}
