// Snapshot and clone benchmark (issue #7): CreateSnapshot, CreateVolume from that snapshot (restore) and
// CreateVolume from the volume (clone) through the whole driver (gRPC → controller → SSH → simulator),
// against the volume size, for each mechanism (file-copy on an xfs pool, btrfs-subvolume on a btrfs pool),
// with every byte of the volume written first. The simulator copies like the appliance would on its host
// file system: a reflink where the host can (XFS reflink=1, btrfs), a full copy otherwise; so the run is
// repeated on the machine's temp file system and, when we are root and mkfs.xfs exists, on a loop-mounted
// XFS with reflink=1. These are simulator numbers: they show how the driver's cost scales with size and
// mechanism, not what an RDS2216 does (docs/snapshots.md).
//
// Run: npm run bench -- snapshots     (BENCH_SNAPSHOT_SIZES_MIB=64,512,2048  BENCH_SNAPSHOT_ITERATIONS=3)
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyStats } from "../src/sim/copy.ts";
import { startEmbeddedRds } from "../src/sim/embedded.ts";
import { run, runOk } from "../src/util/exec.ts";
import { serveController } from "./harness.ts";
import { fmtMs, median } from "./stats.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const SIZES_MIB = (process.env.BENCH_SNAPSHOT_SIZES_MIB ?? "64,512,2048").split(",").map(Number);
const ITERATIONS = Number(process.env.BENCH_SNAPSHOT_ITERATIONS ?? 3);
const CAP = { block: {}, access_mode: { mode: "SINGLE_NODE_WRITER" as const } };

/** Fills a file with incompressible data, 1 MiB at a time (a reflink or copy must then carry every byte). */
function fill(path: string, bytes: number): void {
  const chunk = randomBytes(MiB);
  const fd = openSync(path, "r+");
  try {
    for (let off = 0; off < bytes; off += MiB) writeSync(fd, chunk, 0, Math.min(MiB, bytes - off), off);
  } finally {
    closeSync(fd);
  }
}

interface Row {
  host: string;
  method: string;
  sizeMiB: number;
  snapshot: number;
  restore: number;
  clone: number;
  copies: string;
}

async function benchOne(host: string, dataRoot: string, fs: "xfs" | "btrfs"): Promise<Row[]> {
  const rds = await startEmbeddedRds({
    dataDir: mkdtempSync(join(dataRoot, "rds-")),
    pools: [{ name: "storage-pool", sizeBytes: 64 * GiB, fs }],
  });
  const dir = mkdtempSync(join(tmpdir(), "bench-snap-"));
  const served = await serveController(dir, {
    host: rds.sim.host,
    port: rds.sim.port,
    user: rds.user,
    privateKey: rds.privateKey,
    hostKey: rds.sim.hostKeyFingerprint,
    commandTimeoutMs: 120_000,
  });
  const { csi, client } = served;
  const c = csi.controller;
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const rows: Row[] = [];
  try {
    // Warm up: the first calls look up the pool and RouterOS version and create the directories.
    const warm = "pvc-0000ffff-0000-4000-8000-0000000000be";
    await c.CreateVolume({
      name: warm,
      capacity_range: { required_bytes: String(MiB) },
      volume_capabilities: [CAP],
    });
    const ws = (await c.CreateSnapshot({ name: "bench-warm", source_volume_id: warm })).snapshot!.snapshot_id;
    const wv = await c.CreateVolume({
      name: "bench-warm-restore",
      volume_capabilities: [CAP],
      volume_content_source: { snapshot: { snapshot_id: ws } },
    });
    await c.DeleteVolume({ volume_id: wv.volume!.volume_id });
    await c.DeleteSnapshot({ snapshot_id: ws });
    await c.DeleteVolume({ volume_id: warm });
    for (const sizeMiB of SIZES_MIB) {
      const bytes = sizeMiB * MiB;
      const src = `pvc-${sizeMiB.toString(16).padStart(8, "0")}-0000-4000-8000-0000000000be`;
      await c.CreateVolume({
        name: src,
        capacity_range: { required_bytes: String(bytes) },
        volume_capabilities: [CAP],
      });
      fill(rds.sim.localPath((await client.getDisk(src))!.filePath), bytes);
      const before = { ...copyStats };
      const samples = { snapshot: [] as number[], restore: [] as number[], clone: [] as number[] };
      for (let i = 0; i < ITERATIONS; i++) {
        const snapName = `bench-${sizeMiB}-${i}`;
        let snapId = "";
        samples.snapshot.push(
          await time(async () => {
            snapId = (await c.CreateSnapshot({ name: snapName, source_volume_id: src })).snapshot!
              .snapshot_id;
          }),
        );
        const made: string[] = [];
        const fromSource = (name: string, source: object) => async () => {
          const v = await c.CreateVolume({ name, volume_capabilities: [CAP], volume_content_source: source });
          made.push(v.volume!.volume_id);
        };
        samples.restore.push(
          await time(fromSource(`bench-restore-${sizeMiB}-${i}`, { snapshot: { snapshot_id: snapId } })),
        );
        samples.clone.push(
          await time(fromSource(`bench-clone-${sizeMiB}-${i}`, { volume: { volume_id: src } })),
        );
        for (const id of made) await c.DeleteVolume({ volume_id: id });
        await c.DeleteSnapshot({ snapshot_id: snapId });
      }
      await c.DeleteVolume({ volume_id: src });
      rows.push({
        host,
        method: fs === "btrfs" ? "btrfs-subvolume" : "file-copy",
        sizeMiB,
        snapshot: median(samples.snapshot),
        restore: median(samples.restore),
        clone: median(samples.clone),
        copies: `${copyStats.reflink - before.reflink} reflink / ${copyStats.full - before.full} full`,
      });
    }
  } finally {
    await served.stop();
    await rds.close();
    rmSync(rds.dataDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** A loop-mounted XFS with reflink=1 (what the RDS formats its pools with), or undefined when impossible. */
async function reflinkXfs(): Promise<{ path: string; remove(): Promise<void> } | undefined> {
  if (process.getuid?.() !== 0 || !existsSync("/usr/sbin/mkfs.xfs")) return undefined;
  const base = mkdtempSync(join(tmpdir(), "bench-xfs-"));
  const image = join(base, "xfs.img");
  const mnt = join(base, "mnt");
  mkdirSync(mnt);
  try {
    await runOk("truncate", ["-s", "24G", image]);
    await runOk("mkfs.xfs", ["-q", "-m", "reflink=1", image]);
    await runOk("mount", ["-o", "loop", image, mnt], { timeoutMs: 30_000 });
  } catch (err) {
    console.log(`(no reflink XFS run: ${(err as Error).message.split("\n")[0]})`);
    rmSync(base, { recursive: true, force: true });
    return undefined;
  }
  return {
    path: mnt,
    remove: async () => {
      await run("umount", [mnt], { timeoutMs: 60_000 });
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export async function benchSnapshots(): Promise<void> {
  console.log("\n## Snapshots and clones: time against volume size, per mechanism (simulator)");
  console.log(
    `Every byte of the source volume is written first; median of ${ITERATIONS} iterations; CreateSnapshot, then ` +
      "CreateVolume from the snapshot (restore) and from the volume (clone), all at the source's size.\n",
  );
  const rows: Row[] = [];
  const hostFs = (await run("stat", ["-f", "-c", "%T", tmpdir()])).stdout.trim() || "?";
  for (const fs of ["xfs", "btrfs"] as const)
    rows.push(...(await benchOne(`${tmpdir()} (${hostFs})`, tmpdir(), fs)));
  const xfs = await reflinkXfs();
  if (xfs) {
    try {
      for (const fs of ["xfs", "btrfs"] as const)
        rows.push(...(await benchOne("loop XFS reflink=1", xfs.path, fs)));
    } finally {
      await xfs.remove();
    }
  }
  console.log(
    "| simulator host fs | mechanism | volume | CreateSnapshot | restore | clone | snapshot copy rate | copies made |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    // A rate means something only for full copies; a reflink or btrfs snapshot is metadata only.
    const mbps = r.copies.endsWith(" 0 full")
      ? "n/a (reflinks)"
      : `${((r.sizeMiB * MiB) / 1e6 / (r.snapshot / 1000)).toFixed(0)} MB/s`;
    console.log(
      `| ${r.host} | ${r.method} | ${r.sizeMiB >= 1024 ? `${r.sizeMiB / 1024} GiB` : `${r.sizeMiB} MiB`} | ${fmtMs(r.snapshot)} | ${fmtMs(r.restore)} | ${fmtMs(r.clone)} | ${mbps} | ${r.copies} |`,
    );
  }
}
