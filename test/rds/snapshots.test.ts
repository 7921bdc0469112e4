// The RdsClient methods behind snapshots and clones (`/file copy`, `/disk btrfs subvolume`, searching
// `/file`, exporting a disk added unexported), against the simulator over real SSH, plus their command
// lines built from validated values only.
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  RosCommand,
  val,
  validateFsLabel,
  validatePathFragment,
  withSentinel,
} from "../../src/rds/command.ts";
import { type RdsClient, RdsError } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { simClient } from "../helpers/sim-client.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const NQN = "nqn.2026-01.com.mikrotik.rds-csi";

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RdsError) return e.kind;
    throw e;
  }
  return "resolved";
}

describe("command lines", () => {
  it("renders /file copy, subvolume add/remove and a contains-search from validated values", () => {
    const copy = new RosCommand("/file", "copy")
      .item(val.quoted("pool/k8s/a.img"))
      .arg("name", val.filePath("pool/k8s/snapshots/b.img"));
    expect(withSentinel(copy)).toBe(
      '/file copy "pool/k8s/a.img" name="pool/k8s/snapshots/b.img"; :put "__RDS_OK__"',
    );
    const add = new RosCommand("/disk/btrfs/subvolume", "add")
      .arg("fs", val.fsLabel("pool"))
      .arg("name", val.subvolume("k8s/snapshots/s1"))
      .arg("parent", val.subvolume("k8s/pvc-1"));
    expect(add.render()).toBe('/disk/btrfs/subvolume add fs=pool name="k8s/snapshots/s1" parent="k8s/pvc-1"');
    const remove = new RosCommand("/disk/btrfs/subvolume", "remove").findWhereAny("name", [
      val.quoted("k8s/s1"),
      val.quoted("s1"),
    ]);
    expect(remove.render()).toBe('/disk/btrfs/subvolume remove [find where name="k8s/s1" or name="s1"]');
    expect(val.containsRegex(validatePathFragment("/snapshots/snap-1.img")).cli).toBe(
      '"/snapshots/snap-1\\\\.img"', // `\\.` in RouterOS quotes is the regex `\.`
    );
  });

  it("refuses what could escape a value", () => {
    for (const bad of ["", "/", "a//b", "../x", "a b", 'a"b', "a;b", "a$b"])
      expect(() => validatePathFragment(bad), bad).toThrow(RdsError);
    for (const bad of ["", "-x", "a/b", "a b", "x".repeat(64)])
      expect(() => validateFsLabel(bad), bad).toThrow(RdsError);
    expect(() => val.subvolume("/abs")).toThrow(RdsError);
    expect(() => new RosCommand("/x", "remove").findWhereAny("name", [])).toThrow();
  });
});

describe("against the simulator", () => {
  let rds: EmbeddedRds;
  let c: RdsClient;
  beforeAll(async () => {
    rds = await startEmbeddedRds({
      pools: [
        { name: "xpool", sizeBytes: 10 * GiB, fs: "xfs" },
        { name: "bpool", sizeBytes: 10 * GiB, fs: "btrfs" },
      ],
    });
    c = simClient(rds);
    await c.ensureDirectory("xpool/k8s/snapshots");
    await c.ensureDirectory("bpool/k8s/snapshots");
  });
  afterAll(async () => {
    await c.close();
    await rds.close();
  });

  it("reads the pool's file system label", async () => {
    expect(await c.getPool("bpool")).toMatchObject({ fs: "btrfs", fsLabel: "bpool" });
  });

  it("copies a file, finds it anywhere by a fragment, refuses to overwrite, reports no space", async () => {
    await c.addFileDisk({
      slot: "vol-1",
      filePath: "xpool/k8s/vol-1.img",
      fileSizeBytes: 8 * MiB,
      comment: "",
      nvmeExport: false,
      nvmePort: 4420,
    });
    writeFileSync(rds.sim.localPath("xpool/k8s/vol-1.img"), "golden", { flag: "r+" });
    await c.copyFile("xpool/k8s/vol-1.img", "xpool/k8s/snapshots/snap-1.img");
    expect(readFileSync(rds.sim.localPath("xpool/k8s/snapshots/snap-1.img")).subarray(0, 6).toString()).toBe(
      "golden",
    );
    expect((await c.findFiles("/snapshots/snap-1")).map((f) => f.name)).toEqual([
      "xpool/k8s/snapshots/snap-1.img",
    ]);
    expect(await c.findFiles("/snapshots/snap-2")).toEqual([]);
    expect(await kindOf(c.copyFile("xpool/k8s/vol-1.img", "xpool/k8s/snapshots/snap-1.img"))).toBe("exists");
    expect(await kindOf(c.copyFile("xpool/k8s/none.img", "xpool/k8s/snapshots/x.img"))).toBe("not-found");
    rds.sim.faults.diskFull(true);
    expect(await kindOf(c.copyFile("xpool/k8s/vol-1.img", "xpool/k8s/snapshots/x.img"))).toBe("no-space");
    rds.sim.faults.diskFull(false);
    // A disk added unexported can be exported later with its port and NQN (the restore path).
    const exported = await c.setDisk("vol-1", { nvmeExport: true, nvmePort: 4421, nqn: `${NQN}:vol-1` });
    expect(exported).toMatchObject({ nvmeExport: true, nvmePort: 4421, nqn: `${NQN}:vol-1` });
    await c.removeDisk("vol-1");
    await c.removeFile("xpool/k8s/vol-1.img");
    await c.removeFile("xpool/k8s/snapshots/snap-1.img");
  });

  it("adds subvolumes and snapshots, removes them with their contents; missing is not an error", async () => {
    await c.addSubvolume({ fsLabel: "bpool", mountPoint: "bpool", name: "k8s/vol-2" });
    await c.addFileDisk({
      slot: "vol-2",
      filePath: "bpool/k8s/vol-2/volume.img",
      fileSizeBytes: 4 * MiB,
      comment: "",
      nvmeExport: false,
      nvmePort: 4420,
    });
    await c.addSubvolume({
      fsLabel: "bpool",
      mountPoint: "bpool",
      name: "k8s/snapshots/s2",
      parent: "k8s/vol-2",
    });
    expect(await c.getFile("bpool/k8s/snapshots/s2/volume.img")).toMatchObject({ type: ".img file" });
    expect(await kindOf(c.addSubvolume({ fsLabel: "xpool", mountPoint: "xpool", name: "k8s/x" }))).toBe(
      "invalid",
    );
    expect(await kindOf(c.removeSubvolume("k8s/vol-2"))).toBe("failure"); // a disk still uses its file
    await c.removeSubvolume("k8s/snapshots/s2");
    await c.removeSubvolume("k8s/snapshots/s2");
    expect(await c.getFile("bpool/k8s/snapshots/s2")).toBeUndefined();
    await c.removeDisk("vol-2");
    await c.removeSubvolume("k8s/vol-2");
    expect(await c.getFile("bpool/k8s/vol-2")).toBeUndefined();
  });
});
