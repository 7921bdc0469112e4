// `/file copy` and `/disk btrfs subvolume` through a real SSH client: data copied byte for byte and
// independent afterwards, thick space accounting, version gating, the chosen failure texts, persistence.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Simulator } from "../../src/sim/types.ts";
import { connect, type SshSession, startTestSim, tempDir } from "./helpers.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** Runs a command that must succeed silently. */
async function ok(ssh: SshSession, command: string): Promise<void> {
  const r = await ssh.exec(command);
  expect({ command, ...r }).toEqual({ command, stdout: "", stderr: "", code: 0 });
}
const out = async (ssh: SshSession, command: string): Promise<string> =>
  (await ssh.exec(command)).stdout.replace(/\r\n$/, "");

async function freeOf(ssh: SshSession, pool: string): Promise<number> {
  return Number(await out(ssh, `:put ([/disk print as-value where slot="${pool}"]->0->"free")`));
}

describe("/file copy (7.23+)", () => {
  let sim: Simulator;
  let ssh: SshSession;
  const dir = tempDir();
  beforeAll(async () => {
    sim = await startTestSim({ dataDir: dir.dir, pools: [{ name: "pool", sizeBytes: 100 * GiB }] });
    ssh = await connect(sim);
    await ok(ssh, "/file add type=directory name=pool/k8s");
    await ok(ssh, "/disk add type=file slot=v1 file-path=pool/k8s/v1.img file-size=64M nvme-tcp-export=yes");
  });
  afterAll(async () => {
    ssh.close();
    await sim.close();
    dir.remove();
  });

  it("copies the data, counts the copy thick, and the copy is independent of the source", async () => {
    const src = sim.localPath("pool/k8s/v1.img");
    const data = Buffer.alloc(MiB, 0xab);
    writeFileSync(src, data, { flag: "r+" });
    const before = await freeOf(ssh, "pool");
    await ok(ssh, '/file copy "pool/k8s/v1.img" name=pool/k8s/c1.img');
    const copy = sim.localPath("pool/k8s/c1.img");
    expect(statSync(copy).size).toBe(64 * MiB);
    expect(readFileSync(copy).subarray(0, MiB).equals(data)).toBe(true);
    expect(before - (await freeOf(ssh, "pool"))).toBe(64 * MiB);

    writeFileSync(src, Buffer.alloc(MiB, 0x11), { flag: "r+" });
    expect(readFileSync(copy).subarray(0, MiB).equals(data)).toBe(true);
    expect(await out(ssh, ':put [:len [/file find where name="pool/k8s/c1.img"]]')).toBe("1");

    // The copy is a file like any other: attachable as a disk, removable, space given back.
    await ok(ssh, "/disk add type=file slot=c1 file-path=pool/k8s/c1.img");
    await ok(ssh, "/disk remove c1");
    await ok(ssh, '/file remove [find where name="pool/k8s/c1.img"]');
    expect(await freeOf(ssh, "pool")).toBe(before);
  });

  it("accepts a leading slash, `[find]` as the source, and copies directories recursively", async () => {
    await ok(ssh, "/file copy /pool/k8s/v1.img name=pool/k8s/c2.img");
    await ok(ssh, '/file copy [find where name="pool/k8s/c2.img"] name=pool/k8s/c3.img');
    await ok(ssh, "/file copy pool/k8s name=pool/k8s-copy");
    const names = await out(ssh, ':put [/file find where name~"^pool/k8s-copy"]');
    expect(names.split(";")).toHaveLength(4); // the directory and v1, c2, c3
    expect(statSync(sim.localPath("pool/k8s-copy/c3.img")).size).toBe(64 * MiB);
    await ok(ssh, '/file remove [find where name~"^pool/k8s-copy/"]');
    await ok(ssh, '/file remove [find where name="pool/k8s-copy"]');
    await ok(ssh, '/file remove [find where name~"^pool/k8s/c[23].img"]');
  });

  it("fails with RouterOS-shaped errors and leaves nothing behind", async () => {
    const before = await freeOf(ssh, "pool");
    const cases: Array<[string, string]> = [
      ["/file copy pool/k8s/missing.img name=pool/k8s/x.img", "no such item"],
      ["/file copy pool/k8s/v1.img name=pool/k8s/v1.img", "failure: invalid file name"],
      ["/file copy pool/k8s/v1.img name=pool/nodir/x.img", "failure: parent directory does not exist"],
      ["/file copy pool/k8s/v1.img name=elsewhere/x.img", "failure: invalid file name"],
      ["/file copy pool name=pool/k8s/x", "failure: can not copy a disk mount point"],
      ["/file copy pool/k8s/v1.img", "failure: file name must be specified"],
    ];
    for (const [command, error] of cases) expect((await ssh.exec(command)).stdout).toBe(`${error}\r\n`);
    await ok(ssh, "/file copy pool/k8s/v1.img name=pool/k8s/x.img");
    expect((await ssh.exec("/file copy pool/k8s/v1.img name=pool/k8s/x.img")).stdout).toBe(
      "failure: already have such file or directory\r\n",
    );
    await ok(ssh, '/file remove [find where name="pool/k8s/x.img"]');
    sim.faults.diskFull(true);
    expect((await ssh.exec("/file copy pool/k8s/v1.img name=pool/k8s/x.img")).stdout).toBe(
      "failure: not enough space\r\n",
    );
    sim.faults.diskFull(false);
    expect(await out(ssh, ':put [:len [/file find where name="pool/k8s/x.img"]]')).toBe("0");
    expect(await freeOf(ssh, "pool")).toBe(before);
  });
});

describe("/disk btrfs subvolume (7.18+)", () => {
  let sim: Simulator;
  let ssh: SshSession;
  const dir = tempDir();
  beforeAll(async () => {
    sim = await startTestSim({
      dataDir: dir.dir,
      pools: [
        { name: "bpool", sizeBytes: 10 * GiB, fs: "btrfs" },
        { name: "xpool", sizeBytes: 10 * GiB, fs: "xfs" },
      ],
    });
    ssh = await connect(sim);
    await ok(ssh, "/file add type=directory name=bpool/k8s");
  });
  afterAll(async () => {
    ssh.close();
    await sim.close();
    dir.remove();
  });

  it("makes subvolumes as directories; a snapshot copies the files and is independent", async () => {
    await ok(ssh, "/disk/btrfs/subvolume/add fs=bpool name=k8s/vol-a");
    expect(await out(ssh, ':put [/file get [find where name="bpool/k8s/vol-a"] type]')).toBe("directory");
    await ok(ssh, "/disk add type=file slot=vol-a file-path=bpool/k8s/vol-a/volume.img file-size=16M");
    const image = sim.localPath("bpool/k8s/vol-a/volume.img");
    writeFileSync(image, Buffer.from("first"), { flag: "r+" });

    const free = await freeOf(ssh, "bpool");
    await ok(ssh, "/file add type=directory name=bpool/k8s/snapshots");
    await ok(ssh, "/disk btrfs subvolume add read-only=yes parent=k8s/vol-a fs=bpool name=k8s/snapshots/s1");
    const snap = sim.localPath("bpool/k8s/snapshots/s1/volume.img");
    expect(readFileSync(snap).subarray(0, 5).toString()).toBe("first");
    expect(free - (await freeOf(ssh, "bpool"))).toBe(16 * MiB); // thick, like every file in the simulator
    writeFileSync(image, Buffer.from("later"), { flag: "r+" });
    expect(readFileSync(snap).subarray(0, 5).toString()).toBe("first");

    const json = JSON.parse(
      await out(ssh, ":put [:serialize to=json [/disk btrfs subvolume print as-value]]"),
    );
    expect(json).toEqual([
      expect.objectContaining({ name: "k8s/vol-a", fs: "bpool", "read-only": false, parent: "" }),
      expect.objectContaining({ name: "k8s/snapshots/s1", "read-only": true, parent: "k8s/vol-a" }),
    ]);
    expect(await out(ssh, '/disk btrfs subvolume print detail where name="k8s/snapshots/s1"')).toMatch(
      /^1 name="k8s\/snapshots\/s1" fs="bpool" path=\/bpool\/k8s\/snapshots\/s1 read-only=yes/,
    );
    // A writable snapshot of the snapshot (a restore), then everything removed again.
    await ok(ssh, "/disk btrfs subvolume add parent=k8s/snapshots/s1 fs=bpool name=k8s/vol-b");
    expect(readFileSync(sim.localPath("bpool/k8s/vol-b/volume.img")).subarray(0, 5).toString()).toBe("first");
    await ok(ssh, '/disk btrfs subvolume remove [find where name="k8s/vol-b" or name="vol-b"]');
    await ok(ssh, '/disk btrfs subvolume remove [find where name="k8s/snapshots/s1"]');
    expect(await out(ssh, ':put [:len [/file find where name~"^bpool/k8s/(vol-b|snapshots/s1)"]]')).toBe("0");
    expect(await freeOf(ssh, "bpool")).toBe(free);
  });

  it("refuses what btrfs or RouterOS would refuse, with the chosen texts", async () => {
    await ok(ssh, "/disk btrfs subvolume add fs=bpool name=k8s/ro read-only=yes");
    await ok(ssh, "/disk btrfs subvolume add fs=bpool name=k8s/outer");
    await ok(ssh, "/disk btrfs subvolume add fs=bpool name=k8s/outer/inner");
    const cases: Array<[string, string]> = [
      ["/disk btrfs subvolume add fs=xpool name=k8s/x", "input does not match any value of fs"],
      [
        "/disk btrfs subvolume add fs=bpool name=k8s/x parent=k8s/none",
        "input does not match any value of parent",
      ],
      ["/disk btrfs subvolume add fs=bpool name=k8s/outer", "failure: already have such file or directory"],
      ["/disk btrfs subvolume add fs=bpool name=nodir/x", "failure: parent directory does not exist"],
      ["/disk btrfs subvolume add fs=bpool name=k8s/ro/x", "failure: read-only file system"],
      ["/file copy bpool/k8s/vol-a/volume.img name=bpool/k8s/ro/x.img", "failure: read-only file system"],
      [
        '/disk btrfs subvolume remove [find where name="k8s/outer"]',
        "failure: subvolume contains other subvolumes, remove them first",
      ],
      [
        '/disk btrfs subvolume remove [find where name="k8s/vol-a"]',
        "failure: file is used by a disk, remove the disk first",
      ],
      ["/disk btrfs subvolume add name=k8s/x", "failure: fs must be specified"],
    ];
    for (const [command, error] of cases)
      expect({ command, out: (await ssh.exec(command)).stdout }).toEqual({ command, out: `${error}\r\n` });
    // A snapshot leaves nested subvolumes out (they appear as empty directories, as on btrfs).
    await ok(ssh, "/disk btrfs subvolume add fs=bpool parent=k8s/outer name=k8s/outer-snap");
    expect(statSync(sim.localPath("bpool/k8s/outer-snap/inner")).isDirectory()).toBe(true);
    for (const n of ["k8s/outer-snap", "k8s/outer/inner", "k8s/outer", "k8s/ro"])
      await ok(ssh, `/disk btrfs subvolume remove [find where name="${n}"]`);
  });

  it("keeps subvolumes across a restart", async () => {
    await sim.close();
    sim = await startTestSim({
      dataDir: dir.dir,
      pools: [
        { name: "bpool", sizeBytes: 10 * GiB, fs: "btrfs" },
        { name: "xpool", sizeBytes: 10 * GiB, fs: "xfs" },
      ],
    });
    ssh = await connect(sim);
    expect(await out(ssh, ":put [/disk btrfs subvolume print count-only]")).toBe("1");
    expect(await out(ssh, ":put [/disk btrfs subvolume get [find] name]")).toBe("k8s/vol-a");
  });
});

describe("version gating", () => {
  it("has neither command before 7.18 and only subvolumes before 7.23", async () => {
    const dir = tempDir();
    try {
      for (const [version, copy, btrfs] of [
        ["7.17.2", false, false],
        ["7.22.1", false, true],
        ["7.23", true, true],
      ] as const) {
        const sim = await startTestSim({
          dataDir: dir.dir,
          version,
          pools: [{ name: "p", sizeBytes: GiB, fs: "btrfs" }],
        });
        const ssh = await connect(sim);
        const c = (await ssh.exec("/file copy p/x name=p/y")).stdout;
        const b = (await ssh.exec("/disk btrfs subvolume print")).stdout;
        expect({
          version,
          copy: !c.startsWith("bad command name"),
          btrfs: !b.startsWith("bad command name"),
        }).toEqual({ version, copy, btrfs });
        ssh.close();
        await sim.close();
      }
    } finally {
      dir.remove();
    }
  });
});
