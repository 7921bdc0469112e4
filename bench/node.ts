// Node benchmark (issue: driver overhead < 10%): NodeStage+NodePublish+NodeUnpublish+NodeUnstage of an
// existing ext4 volume through the driver (the real `rds-csi node` process, called over its unix socket,
// loop transport) against the same commands run from a shell script on the same backing file,
// interleaved in one run. A second plugin process with --exec-helpers=false shows what the exec helpers
// save, and an empty RPC after a pause like the ones between steps shows the floor that four gRPC
// round trips alone put under the driver. Then the node plugin's resident memory while idle and with
// 20 volumes staged and published at once, and the idle memory as the DaemonSet runs it (metrics server on)
// and without the launcher's V8 memory flags (whose latency cost the third plugin process shows).
// Needs root. Run: npm run bench -- node
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "../scripts/build.ts";
import { connectCsi } from "../src/csi/client.ts";
import type { VolumeCapability } from "../src/csi/generated/csi/v1/VolumeCapability.ts";
import { PublishKey } from "../src/csi/volume-context.ts";
import { buildKubeletClient, KubeletClient } from "./kubelet-client.ts";
import { fmtMs, interleavedMany, median, percentile } from "./stats.ts";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 30);
const ROOT = resolve(import.meta.dirname, "..");
const GiB = 1024 ** 3;
const cap: VolumeCapability = {
  mount: { fs_type: "ext4", mount_flags: [] },
  access_mode: { mode: "SINGLE_NODE_WRITER" },
};

// The commands the node service runs for this cycle on an existing ext4 filesystem, in order.
const SHELL_CYCLE = `set -e
dev=$(losetup --find --show --direct-io=off "$1")
blkid -p -o export "$dev" >/dev/null
e2fsck -f -n "$dev" >/dev/null 2>&1
mount -t ext4 "$dev" "$2"
mkdir -p "$3"
mount --bind "$2" "$3"
umount "$3"
rmdir "$3"
umount "$2"
losetup --detach "$dev"
`;

function image(root: string, name: string, bytes: number, format = true): string {
  const rel = `storage-pool/bench/${name}.img`;
  const path = join(root, rel);
  mkdirSync(join(root, "storage-pool/bench"), { recursive: true });
  writeFileSync(path, "");
  truncateSync(path, bytes);
  if (format) execFileSync("mkfs.ext4", ["-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", path]);
  return rel;
}

function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m);
  return m ? Number(m[1]) : Number.NaN;
}

async function waitFor(path: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300 && !existsSync(path); i++) {
    if (child.exitCode !== null) throw new Error("node plugin exited");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startPlugin(
  work: string,
  name: string,
  loopRoot: string,
  extra: string[] = [],
  bin = join(ROOT, "bin", "rds-csi"),
  env: Record<string, string> = {},
) {
  const sock = join(work, `${name}.sock`);
  const child = spawn(
    bin,
    [
      "node",
      "--endpoint",
      `unix://${sock}`,
      "--node-id",
      "bench",
      "--transport",
      "loop",
      "--loop-root",
      loopRoot,
      ...extra,
    ],
    { stdio: "ignore", env: { ...process.env, ...env } },
  );
  await waitFor(sock, child);
  const csi = connectCsi(`unix://${sock}`);
  await csi.identity.GetPluginInfo({});
  return { child, csi };
}

/** Resident memory of the exec helpers (bash) the plugin started: its children. */
function helpersKiB(pid: number): { count: number; kib: number } {
  let count = 0;
  let kib = 0;
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== pid) continue;
      count++;
      kib += rssKiB(Number(p));
    } catch {
      // exited meanwhile
    }
  }
  return { count, kib };
}

/** The image's /opt/rds-csi: bin/ and proto/ as copied, dist/ built by scripts/build.ts, no src/. */
function imageLayout(work: string): string {
  const app = join(work, "image");
  mkdirSync(join(app, "bin"), { recursive: true });
  cpSync(join(ROOT, "bin", "rds-csi"), join(app, "bin", "rds-csi"));
  cpSync(join(ROOT, "package.json"), join(app, "package.json"));
  symlinkSync(join(ROOT, "proto"), join(app, "proto"));
  symlinkSync(join(ROOT, "node_modules"), join(app, "node_modules"));
  build(join(app, "dist"));
  return join(app, "bin", "rds-csi");
}

interface MemoryRun {
  idle: number;
  peak: number;
  busy: number;
  after: number;
  stageAllMs: number;
  helpers: { count: number; kib: number };
}

/** bin/rds-csi's V8 flags for the node plugin turned off (see the launcher). */
const V8_DEFAULTS = { RDS_CSI_NODE_V8_FLAGS: "" };

/** Resident memory one second after the first call, as in memoryRun, for variants that need no volumes. */
async function idleRss(
  work: string,
  loopRoot: string,
  name: string,
  bin: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<number> {
  const { child, csi } = await startPlugin(work, name, loopRoot, extra, bin, env);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    return rssKiB(child.pid!);
  } finally {
    csi.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

async function memoryRun(work: string, loopRoot: string, name: string, bin: string): Promise<MemoryRun> {
  const { child, csi } = await startPlugin(work, name, loopRoot, [], bin);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = rssKiB(child.pid!);
    const vols = Array.from({ length: 20 }, (_, i) => ({
      id: `pvc-${name}-${i}`,
      rel: image(loopRoot, `pvc-${name}-${i}`, 256 * 1024 * 1024, false),
      dir: join(work, name, String(i)),
    }));
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssKiB(child.pid!));
    }, 10);
    const t0 = performance.now();
    await Promise.all(
      vols.map(async (v) => {
        const pc = { [PublishKey.filePath]: v.rel };
        mkdirSync(join(v.dir, "staging"), { recursive: true });
        const staging_target_path = join(v.dir, "staging");
        await csi.node.NodeStageVolume({
          volume_id: v.id,
          staging_target_path,
          volume_capability: cap,
          publish_context: pc,
        });
        await csi.node.NodePublishVolume({
          volume_id: v.id,
          staging_target_path,
          target_path: join(v.dir, "target"),
          volume_capability: cap,
          publish_context: pc,
        });
      }),
    );
    const stageAllMs = performance.now() - t0;
    const busy = rssKiB(child.pid!);
    const helpers = helpersKiB(child.pid!);
    await Promise.all(
      vols.map(async (v) => {
        await csi.node.NodeUnpublishVolume({ volume_id: v.id, target_path: join(v.dir, "target") });
        await csi.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: join(v.dir, "staging") });
      }),
    );
    clearInterval(sampler);
    return { idle, peak, busy, after: rssKiB(child.pid!), stageAllMs, helpers };
  } finally {
    csi.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

const pct = (x: number, base: number) => `${x >= base ? "+" : ""}${((x / base - 1) * 100).toFixed(1)}%`;

export async function benchNode(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench node: needs root (loop devices, mount)");
  const work = mkdtempSync(join(tmpdir(), "bench-node-"));
  const loopRoot = join(work, "rds");
  try {
    const rel = image(loopRoot, "pvc-latency", GiB);
    // The real node plugin at its defaults, and one that spawns every tool directly.
    const { child, csi } = await startPlugin(work, "helpers", loopRoot);
    const direct = await startPlugin(work, "direct", loopRoot, ["--exec-helpers=false"]);
    const v8 = await startPlugin(work, "v8", loopRoot, [], undefined, V8_DEFAULTS);

    // --- latency: driver vs shell, same backing file, interleaved
    const publishContext = {
      [PublishKey.filePath]: rel,
      [PublishKey.nqn]: "nqn.2026-01.com.mikrotik.rds-csi:pvc-latency",
      [PublishKey.address]: "127.0.0.1",
      [PublishKey.port]: "4420",
    };
    const volume_id = "pvc-latency";
    const driverCycle = (client: typeof csi, name: string) => {
      const staging = join(work, name, "staging");
      const target = join(work, name, "pods", "p", "vol");
      mkdirSync(staging, { recursive: true });
      return async () => {
        await client.node.NodeStageVolume({
          volume_id,
          staging_target_path: staging,
          volume_capability: cap,
          publish_context: publishContext,
        });
        await client.node.NodePublishVolume({
          volume_id,
          staging_target_path: staging,
          target_path: target,
          volume_capability: cap,
          publish_context: publishContext,
        });
        await client.node.NodeUnpublishVolume({ volume_id, target_path: target });
        await client.node.NodeUnstageVolume({ volume_id, staging_target_path: staging });
      };
    };
    const script = join(work, "cycle.sh");
    writeFileSync(script, SHELL_CYCLE);
    const shellStaging = join(work, "shell-staging");
    mkdirSync(shellStaging, { recursive: true });
    const shellCycle = async () => {
      await new Promise<void>((res, rej) => {
        const c = spawn("bash", [script, join(loopRoot, rel), shellStaging, join(work, "shell-target")], {
          stdio: "ignore",
        });
        c.on("exit", (code) => (code === 0 ? res() : rej(new Error(`shell cycle exit ${code}`))));
      });
    };
    // Four empty RPCs, each after a pause as long as a typical step's tool run: what the gRPC hops
    // alone cost in these conditions (a process that has been waiting answers slower than a busy one).
    const rtt: number[] = [];
    const rttV8: number[] = [];
    const rpcFloor = (client: typeof csi, out: number[]) => async () => {
      let sum = 0;
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 5));
        const t0 = performance.now();
        await client.node.NodeGetCapabilities({});
        sum += performance.now() - t0;
      }
      out.push(sum);
    };
    // The same cycles from a Go/grpc-go client, as kubelet calls the plugin.
    const go = buildKubeletClient();
    const goClient = (endpoint: string, name: string) => {
      if (!("bin" in go)) return undefined;
      const staging = join(work, `go-${name}`, "staging");
      mkdirSync(staging, { recursive: true });
      return new KubeletClient(go.bin, {
        endpoint,
        volume: volume_id,
        staging,
        target: join(work, `go-${name}`, "pods", "p", "vol"),
        publishContext,
      });
    };
    const goHelpers = goClient(`unix://${join(work, "helpers.sock")}`, "helpers");
    const goDirect = goClient(`unix://${join(work, "direct.sock")}`, "direct");
    const goTimes = { helpers: [] as number[], direct: [] as number[], floor: [] as number[] };
    const goRuns: Array<() => Promise<void>> =
      goHelpers && goDirect
        ? [
            async () => void goTimes.helpers.push(await goHelpers.run("cycle")),
            async () => void goTimes.direct.push(await goDirect.run("cycle")),
            async () => void goTimes.floor.push(await goHelpers.run("floor")),
          ]
        : [];

    const cycles = [
      driverCycle(csi, "helpers"),
      driverCycle(direct.csi, "direct"),
      shellCycle,
      driverCycle(v8.csi, "v8"),
    ];
    for (let i = 0; i < 3; i++) for (const c of [...cycles, ...goRuns]) await c();
    for (const t of Object.values(goTimes)) t.length = 0;
    const [driver, spawnDirect, shell, v8Defaults] = (await interleavedMany(ITERATIONS, [
      ...cycles,
      rpcFloor(csi, rtt),
      rpcFloor(v8.csi, rttV8),
      ...goRuns,
    ])) as [number[], number[], number[], number[]];
    const base = median(shell);
    const line = (label: string, t: number[]) =>
      console.log(
        `| ${label} | ${fmtMs(median(t))} | ${fmtMs(percentile(t, 90))} | ${pct(median(t), base)} |`,
      );
    const floorLine = (label: string, t: number[]) =>
      console.log(
        `| ${label} | ${fmtMs(median(t))} | ${fmtMs(percentile(t, 90))} | ${((median(t) / base) * 100).toFixed(1)}% of the shell cycle |`,
      );
    console.log(
      "\n## Node: NodeStage + NodePublish + NodeUnpublish + NodeUnstage (existing 1 GiB ext4, loop transport)",
    );
    console.log(
      `${ITERATIONS} interleaved rounds. The driver is the \`rds-csi node\` process, called over its unix socket; ` +
        "the shell script runs the same tools in the same order (the driver does mkdir/rmdir in-process).\n",
    );
    console.log("| path | median | p90 | vs shell (median) |");
    console.log("|---|---|---|---|");
    if (goHelpers) {
      line("driver, defaults — Go client (as kubelet)", goTimes.helpers);
      line("driver, --exec-helpers=false — Go client", goTimes.direct);
    }
    line("driver, defaults — Node client", driver);
    line("driver, --exec-helpers=false — Node client", spawnDirect);
    line("driver, defaults without the launcher's V8 memory flags — Node client", v8Defaults);
    console.log(`| shell script | ${fmtMs(base)} | ${fmtMs(percentile(shell, 90))} | |`);
    if (goHelpers) floorLine("4 empty RPCs, each after 5 ms idle — Go client", goTimes.floor);
    floorLine("4 empty RPCs, each after 5 ms idle — Node client", rtt);
    floorLine("4 empty RPCs, each after 5 ms idle, without the V8 memory flags — Node client", rttV8);
    if (!("bin" in go)) console.log(`\nGo client rows skipped: ${go.skipped}`);
    goHelpers?.close();
    goDirect?.close();
    for (const p of [direct, v8]) {
      p.csi.close();
      p.child.kill("SIGTERM");
      await new Promise((r) => p.child.once("exit", r));
    }

    csi.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));

    // --- memory: idle, and with 20 volumes formatted, staged and published concurrently. Once for the
    // checkout (TypeScript sources, stripped by Node as they load) and once for the image's layout (dist/
    // from scripts/build.ts, no src/), each a fresh plugin process.
    const imageBin = imageLayout(work);
    const rows = [
      {
        label: "checkout (src/, types stripped at load)",
        m: await memoryRun(work, loopRoot, "mem-src", join(ROOT, "bin", "rds-csi")),
      },
      { label: "image layout (dist/)", m: await memoryRun(work, loopRoot, "mem-dist", imageBin) },
    ];
    console.log("\n## Node plugin resident memory (`rds-csi node`, VmRSS)\n");
    console.log(`| state | ${rows.map((r) => r.label).join(" | ")} |`);
    console.log(`|---|${rows.map(() => "---").join("|")}|`);
    const mib = (k: number) => `${(k / 1024).toFixed(1)} MiB`;
    console.log(`| idle after start | ${rows.map((r) => mib(r.m.idle)).join(" | ")} |`);
    console.log(
      `| peak while 20 volumes were formatted, staged and published concurrently | ${rows.map((r) => `${mib(r.m.peak)} (${fmtMs(r.m.stageAllMs)})`).join(" | ")} |`,
    );
    console.log(`| with 20 volumes staged and published | ${rows.map((r) => mib(r.m.busy)).join(" | ")} |`);
    console.log(
      `| after unpublishing and unstaging all 20 | ${rows.map((r) => mib(r.m.after)).join(" | ")} |`,
    );
    // The DaemonSet runs the plugin with its metrics server on (deploy/), and the launcher's V8 flags
    // can be turned off (RDS_CSI_NODE_V8_FLAGS=): idle only, same measurement, fresh processes.
    const metricsOn = ["--metrics-address", "127.0.0.1:0"];
    const variants: Array<[string, string[], Record<string, string>]> = [
      ["idle, metrics server on (as deployed)", metricsOn, {}],
      ["idle, without the launcher's V8 memory flags", [], V8_DEFAULTS],
    ];
    for (const [label, extra, env] of variants) {
      const kib = [
        await idleRss(work, loopRoot, "idle-src", join(ROOT, "bin", "rds-csi"), extra, env),
        await idleRss(work, loopRoot, "idle-dist", imageBin, extra, env),
      ];
      console.log(`| ${label} | ${kib.map(mib).join(" | ")} |`);
    }
    const h = rows[0]!.m.helpers;
    console.log(
      `\nExec helpers (bash, children of the plugin): ${h.count} with ${mib(h.kib)} RSS together after the 20 stages; ` +
        "most of a bash's RSS is its shared executable and libraries.",
    );
  } finally {
    for (const m of readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4])
      .filter((p): p is string => !!p && p.startsWith(work))
      .sort((a, b) => b.length - a.length)) {
      try {
        execFileSync("umount", ["-l", m]);
      } catch {}
    }
    rmSync(work, { recursive: true, force: true });
  }
}
