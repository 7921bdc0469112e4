// /disk and /file through a real SSH client: exact print output, disk life cycle on real sparse files,
// thick space accounting, where/find semantics and the scripting idioms the driver relies on.
import { statSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Simulator } from "../../src/sim/types.ts";
import { connect, type SshSession, startTestSim, tempDir } from "./helpers.ts";

const GiB = 2 ** 30;
const crlf = (s: string): string => s.replace(/\n/g, "\r\n");
const NQN = "nqn.2026-09.com.mikrotik:rds2216.pvc-1";
const ADD_PVC1 = `/disk add type=file slot=pvc-1 file-path=storage-pool/k8s/pvc-1.img file-size=10G nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=${NQN}`;

let sim: Simulator;
let ssh: SshSession;
let dir: ReturnType<typeof tempDir>;

/** Runs a command that must succeed silently. */
async function ok(command: string): Promise<void> {
  const r = await ssh.exec(command);
  expect({ command, ...r }).toEqual({ command, stdout: "", stderr: "", code: 0 });
}
const out = async (command: string): Promise<string> => (await ssh.exec(command)).stdout;

/** Removes every file disk and file so each test starts from an empty pool with the k8s directory. */
async function reset(): Promise<void> {
  await ok("/disk remove [find where type=file]");
  await ok("/file remove [find where type!=disk and type!=directory]");
  if ((await out(':put [:len [/file find where name="storage-pool/k8s"]]')) === "0\r\n") {
    await ok("/file add type=directory name=storage-pool/k8s");
  }
}

beforeAll(async () => {
  dir = tempDir();
  sim = await startTestSim({ dataDir: dir.dir });
  ssh = await connect(sim);
});

afterAll(async () => {
  ssh.close();
  await sim.close();
  dir.remove();
});

beforeEach(async () => {
  sim.setWrapWidth?.(80);
  await reset();
});

describe("print detail", () => {
  const pool80 = `0 BM  type=raid slot="storage-pool" slot-default="" parent=""
      fs-label="storage-pool" fs-uuid="7de45e44-8958-a5ac-fd47-879ba89a7ada"
      fs=xfs model="RAID0 striped" size=107 374 182 400 free=96 636 764 160
      total-inodes=10 485 760 free-inodes=10 485 755 use=10%
      mount-point="storage-pool" mount-filesystem=yes mount-read-only=no
      compress=no sector-size=512 raid-type=0 raid-device-count=4
      raid-max-component-size=none raid-chunk-size=256K raid-master=none
      state="clean" raid-uuid="ada2b269-08a3-6779-38c5-5c03bf35fb47"
      nvme-tcp-export=no iscsi-export=no nfs-sharing=no smb-sharing=no
      media-sharing=no media-interface=none swap=no`;
  const disk80 = `1 B t type=file slot="pvc-1" slot-default="" parent="" fs=-
      model="/storage-pool/k8s/pvc-1.img" size=10 737 418 240
      mount-filesystem=no mount-read-only=no compress=no sector-size=512
      raid-master=none nvme-tcp-export=yes nvme-tcp-server-port=4420
      nvme-tcp-server-nqn="nqn.2026-09.com.mikrotik:rds2216.pvc-1"
      nvme-tcp-server-allow-host-name="" iscsi-export=no nfs-sharing=no
      smb-sharing=no media-sharing=no media-interface=none swap=no
      file-path=/storage-pool/k8s/pvc-1.img file-size=10.0GiB file-offset=0`;

  it("prints a pool and a file disk at width 80, byte for byte", async () => {
    await ok(ADD_PVC1);
    expect(await out("/disk print detail")).toBe(
      crlf(`Flags: B - BLOCK-DEVICE; M - MOUNTED; t - NVME-TCP-EXPORT\n${pool80}\n \n${disk80}\n`),
    );
  });

  it("prints the same records unwrapped at width 0", async () => {
    await ok(ADD_PVC1);
    sim.setWrapWidth?.(0);
    const unwrap = (s: string): string => s.replace(/\n {6}/g, " ");
    expect(await out("/disk print detail")).toBe(
      crlf(
        `Flags: B - BLOCK-DEVICE; M - MOUNTED; t - NVME-TCP-EXPORT\n${unwrap(pool80)}\n \n${unwrap(disk80)}\n`,
      ),
    );
  });

  it("filters with where and keeps the item number of the whole list", async () => {
    await ok(ADD_PVC1);
    expect(await out('/disk print detail where slot="pvc-1"')).toBe(
      crlf(`Flags: B - BLOCK-DEVICE; t - NVME-TCP-EXPORT
1 Bt type=file slot="pvc-1" slot-default="" parent="" fs=-
     model="/storage-pool/k8s/pvc-1.img" size=10 737 418 240 mount-filesystem=no
     mount-read-only=no compress=no sector-size=512 raid-master=none
     nvme-tcp-export=yes nvme-tcp-server-port=4420
     nvme-tcp-server-nqn="nqn.2026-09.com.mikrotik:rds2216.pvc-1"
     nvme-tcp-server-allow-host-name="" iscsi-export=no nfs-sharing=no
     smb-sharing=no media-sharing=no media-interface=none swap=no
     file-path=/storage-pool/k8s/pvc-1.img file-size=10.0GiB file-offset=0
`),
    );
    expect(await out('/disk print detail where slot="nothing"')).toBe("");
  });

  it("wraps inside a value longer than the line", async () => {
    const long = "pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f-with-a-really-long-name-for-wrapping";
    await ok(`/disk add type=file slot=x1 file-path=storage-pool/k8s/${long}.img file-size=1G`);
    expect(await out("/disk print detail where slot=x1")).toBe(
      crlf(`Flags: B - BLOCK-DEVICE
1 B type=file slot="x1" slot-default="" parent="" fs=-
    model="/storage-pool/k8s/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f-with-a-rea
    lly-long-name-for-wrapping.img" size=1 073 741 824 mount-filesystem=no
    mount-read-only=no compress=no sector-size=512 raid-master=none
    nvme-tcp-export=no iscsi-export=no nfs-sharing=no smb-sharing=no
    media-sharing=no media-interface=none swap=no
    file-path=/storage-pool/k8s/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f-with-a-
    really-long-name-for-wrapping.img file-size=1024.0MiB file-offset=0
`),
    );
  });

  it("renders a comment as ;;; after the flags, properties on the next line, and quotes strings", async () => {
    await ok(
      '/disk add type=file slot=c1 file-path=storage-pool/k8s/c1.img file-size=1M comment="pvc \\"one\\" a\\\\b"',
    );
    const lines = (await out("/disk print detail where slot=c1")).split("\r\n");
    expect(lines.slice(0, 3)).toEqual([
      "Flags: B - BLOCK-DEVICE",
      '1 B ;;; pvc "one" a\\b',
      '    type=file slot="c1" slot-default="" parent="" fs=-',
    ]);
    expect(lines.join("\n")).toContain("file-size=1024.0KiB");
    expect(lines.join("\n")).not.toContain("nvme-tcp-server-port");
  });

  it("prints the table form with a comment line above its row", async () => {
    await ok(`${ADD_PVC1} comment=vol1`);
    expect(await out("/disk print")).toBe(
      crlf(`Flags: B - BLOCK-DEVICE; M - MOUNTED; t - NVME-TCP-EXPORT
Columns: SLOT, MOUNT-POINT, SIZE, FS, SWAP
#     SLOT          MOUNT-POINT              SIZE  FS   SWAP
0 BM  storage-pool  storage-pool  107 374 182 400  xfs  no
;;; vol1
1 B t pvc-1                        10 737 418 240  -    no
`),
    );
  });
});

describe("scripting forms", () => {
  it("print as-value prints nothing bare and key=value;... under :put, with raw values", async () => {
    await ok(ADD_PVC1);
    expect(await out('/disk print detail as-value where slot="pvc-1"')).toBe("");
    const line = await out(':put [/disk print detail as-value where slot="pvc-1"]');
    expect(line.endsWith("\r\n")).toBe(true);
    const fields = Object.fromEntries(
      line
        .trim()
        .split(";")
        .map((kv) => kv.split("=", 2) as [string, string]),
    );
    expect(fields).toMatchObject({
      ".id": expect.stringMatching(/^\*[0-9A-F]+$/),
      slot: "pvc-1",
      "file-path": "/storage-pool/k8s/pvc-1.img",
      "file-size": String(10 * GiB),
      size: String(10 * GiB),
      "nvme-tcp-export": "true",
      "nvme-tcp-server-port": "4420",
      "nvme-tcp-server-nqn": NQN,
      disabled: "false",
    });
    expect(line.startsWith(".id=")).toBe(true);
  });

  it(":serialize to=json gives typed values", async () => {
    await ok(`${ADD_PVC1} comment="a;b=c"`);
    const json = JSON.parse(
      await out(':put [:serialize to=json [/disk print detail as-value where slot="pvc-1"]]'),
    );
    expect(json).toEqual([
      expect.objectContaining({ slot: "pvc-1", size: 10 * GiB, "nvme-tcp-export": true, comment: "a;b=c" }),
    ]);
  });

  it(":put [:len [/disk find ...]] counts; find returns ids; get reads one property", async () => {
    await ok(ADD_PVC1);
    expect(await out(':put [:len [/disk find where slot="pvc-1"]]')).toBe("1\r\n");
    expect(await out(':put [:len [/disk find where slot="pvc-2"]]')).toBe("0\r\n");
    const id = (await out(":put [/disk find slot=pvc-1]")).trim();
    expect(id).toMatch(/^\*[0-9A-F]+$/);
    expect(await out(`:put [/disk get ${id} file-size]`)).toBe(`${10 * GiB}\r\n`);
    expect(await out("/disk print count-only where type=file")).toBe("1\r\n");
    expect(await out(":put [/disk print count-only]")).toBe("2\r\n");
  });

  it(":put [/disk add ...] prints the new id; a sentinel after ; runs only on success", async () => {
    const id = (
      await out(":put [/disk add type=file slot=s1 file-path=storage-pool/k8s/s1.img file-size=1M]")
    ).trim();
    expect(id).toMatch(/^\*[0-9A-F]+$/);
    expect(
      await out('/disk add type=file slot=s1 file-path=storage-pool/k8s/s2.img file-size=1M; :put "__OK__"'),
    ).toBe("failure: already have disk with such slot\r\n");
    expect(await out('/disk set s1 comment=x; :put "__OK__"')).toBe("__OK__\r\n");
  });

  it(":do on-error catches runtime errors; :onerror exposes the message", async () => {
    expect(await out(':do { /disk remove nope } on-error={ :put "ERR" }')).toBe("ERR\r\n");
    expect(await out(':onerror e in={ /disk remove nope } do={ :put "E:$e" }')).toBe("E:no such item\r\n");
  });
});

describe("where and find semantics", () => {
  beforeEach(async () => {
    await ok(
      "/disk add type=file slot=pvc-a file-path=storage-pool/k8s/a.img file-size=1M nvme-tcp-export=yes comment=x",
    );
    await ok("/disk add type=file slot=pvc-b file-path=storage-pool/k8s/b.img file-size=2M disabled=yes");
    await ok("/disk add type=file slot=snap-c file-path=storage-pool/k8s/c.img file-size=3M");
  });
  const slots = async (expr: string): Promise<string> =>
    (await out(`:put [/disk print as-value where ${expr}]`))
      .trim()
      .split(";")
      .filter((f) => f.startsWith("slot="))
      .map((f) => f.slice(5))
      .join(",");

  it("=, !=, ~, and, or, !, parentheses and bare keys", async () => {
    expect(await slots("slot=pvc-a")).toBe("pvc-a");
    expect(await slots('slot!="pvc-a" and type=file')).toBe("pvc-b,snap-c");
    expect(await slots('slot~"^pvc-"')).toBe("pvc-a,pvc-b");
    expect(await slots('slot~"^snap-" or slot=pvc-a')).toBe("pvc-a,snap-c");
    expect(await slots("type=file and !disabled")).toBe("pvc-a,snap-c");
    expect(await slots("nvme-tcp-export")).toBe("pvc-a");
    expect(await slots("nvme-tcp-export=no and (disabled or slot=snap-c)")).toBe("pvc-b,snap-c");
    expect(await slots("comment")).toBe("pvc-a");
    expect(await slots('comment=""')).toBe("");
    expect(await slots(`size>${2 ** 20} and type=file`)).toBe("pvc-b,snap-c");
  });

  it("needs quotes for values with / or : (unquoted they match nothing)", async () => {
    expect(await slots('file-path="/storage-pool/k8s/a.img"')).toBe("pvc-a");
    expect(await slots("file-path=/storage-pool/k8s/a.img")).toBe("");
    expect(await out(':put [:len [/file find name="storage-pool/k8s/a.img"]]')).toBe("1\r\n");
    expect(await out(":put [:len [/file find name=storage-pool/k8s/a.img]]")).toBe("0\r\n");
  });

  it("selects items by slot, print number, *id, list and [find]; empty [find] is a silent no-op", async () => {
    const [idB] = (await out(":put [/disk find slot=pvc-b]")).trim().split(";");
    await ok(`/disk set ${idB} comment=by-id`);
    await ok("/disk set 3 comment=by-number"); // 0 is the pool, then pvc-a, pvc-b, snap-c
    await ok("/disk set pvc-a comment=by-name");
    await ok("/disk set pvc-a,snap-c disabled=yes");
    await ok('/disk set [find where slot="nothing"] comment=none');
    await ok("/disk remove [find slot=nothing]");
    expect(await slots("comment=by-id")).toBe("pvc-b");
    expect(await slots("comment=by-number")).toBe("snap-c");
    expect(await slots("comment=by-name")).toBe("pvc-a");
    expect(await slots("disabled")).toBe("pvc-a,pvc-b,snap-c");
    expect(await out("/disk set nothing comment=x")).toBe("no such item\r\n");
    expect(await out("/disk remove *FFFF")).toBe("no such item\r\n");
  });
});

describe("disk life cycle on real files", () => {
  it("creates a sparse file of exact size, binary suffixes, default slot", async () => {
    await ok("/disk add type=file file-path=storage-pool/k8s/d.img file-size=3M");
    const st = statSync(sim.localPath("storage-pool/k8s/d.img"));
    expect(st.size).toBe(3 * 2 ** 20);
    expect(st.blocks * 512).toBeLessThan(st.size);
    expect(await out(':put [:len [/disk find slot="file-storage-pool-k8s-d-img"]]')).toBe("1\r\n");
    await ok("/disk add type=file slot=exact file-path=storage-pool/k8s/e.img file-size=1234567");
    expect(statSync(sim.localPath("storage-pool/k8s/e.img")).size).toBe(1234567);
  });

  it("thick accounting: free drops by the file size; not enough space is refused", async () => {
    const free = async (): Promise<number> =>
      Number((await out(":put [/disk get storage-pool free]")).trim());
    const before = await free();
    expect(before).toBe(100 * GiB);
    await ok("/disk add type=file slot=big file-path=storage-pool/k8s/big.img file-size=60G");
    expect(await free()).toBe(40 * GiB);
    expect(await out("/disk add type=file slot=big2 file-path=storage-pool/k8s/big2.img file-size=41G")).toBe(
      "failure: not enough space\r\n",
    );
    expect(await out("/disk set big file-size=101G")).toBe("failure: not enough space\r\n");
    expect(await out(":put [/disk get storage-pool use]")).toBe("60\r\n");
  });

  it("/disk remove keeps the file; /file remove deletes it and frees the space", async () => {
    await ok("/disk add type=file slot=r1 file-path=storage-pool/k8s/r1.img file-size=5G");
    await ok("/disk remove [find slot=r1]");
    expect(await out(':put [:len [/disk find slot="r1"]]')).toBe("0\r\n");
    const listed = await out('/file print detail where name="storage-pool/k8s/r1.img"');
    expect(listed).toMatch(
      /^\d+ name=storage-pool\/k8s\/r1\.img type=\.img file size=5120\.0MiB\r\n {2}last-modified=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\r\n$/,
    );
    expect(await out(":put [/disk get storage-pool free]")).toBe(`${95 * GiB}\r\n`);
    await ok('/file remove [find name="storage-pool/k8s/r1.img"]');
    expect(() => statSync(sim.localPath("storage-pool/k8s/r1.img"))).toThrow(/ENOENT/);
    expect(await out(":put [/disk get storage-pool free]")).toBe(`${100 * GiB}\r\n`);
  });

  it("attaches an existing file without file-size and fails when there is none", async () => {
    await ok("/disk add type=file slot=a1 file-path=storage-pool/k8s/a1.img file-size=2M");
    await ok("/disk remove a1");
    await ok("/disk add type=file slot=a2 file-path=storage-pool/k8s/a1.img");
    expect(await out(":put [/disk get a2 size]")).toBe(`${2 * 2 ** 20}\r\n`);
    expect(await out("/disk add type=file slot=a3 file-path=storage-pool/k8s/none.img")).toBe(
      "failure: file does not exist\r\n",
    );
  });

  it("grows file-size in place (the real file grows), refuses shrinking", async () => {
    await ok("/disk add type=file slot=g1 file-path=storage-pool/k8s/g1.img file-size=1G");
    await ok(`/disk set [find where slot="g1"] file-size=${2 * GiB}`);
    expect(statSync(sim.localPath("storage-pool/k8s/g1.img")).size).toBe(2 * GiB);
    expect(await out("/disk set g1 file-size=1G")).toBe("failure: file-size can not be decreased\r\n");
    await ok("/disk set g1 file-size=2G");
  });

  it("toggles export and host names; server settings print only while exported", async () => {
    await ok("/disk add type=file slot=t1 file-path=storage-pool/k8s/t1.img file-size=1M");
    expect(await out("/disk print detail where slot=t1")).not.toContain("nvme-tcp-server-port");
    await ok(
      "/disk set t1 nvme-tcp-export=yes nvme-tcp-server-allow-host-name=nqn.2014-08.org.nvmexpress:uuid:1",
    );
    const d = await out("/disk print detail where nvme-tcp-export");
    expect(d).toContain("nvme-tcp-server-port=4420");
    expect(d.replace(/\r\n +/g, " ")).toContain(
      'nvme-tcp-server-allow-host-name="nqn.2014-08.org.nvmexpress:uuid:1"',
    );
    await ok("/disk disable t1");
    expect(await out("/disk print detail where slot=t1")).toMatch(
      /^Flags: X - DISABLED; B - BLOCK-DEVICE; t - NVME-TCP-EXPORT\r\n1 XBt /,
    );
  });

  it("refuses bad input with RouterOS-shaped errors", async () => {
    const cases: Array<[string, string]> = [
      [
        "/disk add type=file slot=p1 file-path=storage-pool/nodir/p.img file-size=1M",
        "failure: parent directory does not exist",
      ],
      ["/disk add type=file slot=p1 file-size=1M", "failure: file-path must be specified"],
      [
        "/disk add type=file slot=p1 file-path=elsewhere/p.img file-size=1M",
        "failure: file-path must be on a mounted disk",
      ],
      [
        "/disk add type=file slot=p1 file-path=storage-pool/../p.img file-size=1M",
        "failure: invalid file name",
      ],
      [
        "/disk add type=file slot=p1 file-path=storage-pool/k8s/p.img file-size=1X",
        "invalid value for argument file-size",
      ],
      ["/disk add type=bogus", "input does not match any value of type"],
      [
        "/disk add type=file slot=p1 file-path=storage-pool/k8s/p.img file-size=1M nvme-tcp-export=maybe",
        "input does not match any value of nvme-tcp-export",
      ],
      [
        "/disk add type=file slot=p1 file-path=storage-pool/k8s/p.img file-size=1M bogus=1",
        "expected end of command (line 1 column 75)",
      ],
      [
        "/disk add type=file slot=storage-pool file-path=storage-pool/k8s/p.img file-size=1M",
        "failure: already have disk with such slot",
      ],
      ["/disk remove storage-pool", "failure: can not change a disk that is not type=file (simulator)"],
    ];
    for (const [command, error] of cases)
      expect({ command, out: await out(command) }).toEqual({ command, out: `${error}\r\n` });
  });
});

describe("/file", () => {
  it("prints detail per §4: names without leading slash, type with a space, humanized size", async () => {
    await ok("/disk add type=file slot=f1 file-path=storage-pool/k8s/f1.img file-size=10G");
    expect(await out('/file print detail where name~"^storage-pool/k8s"')).toMatch(
      /^1 name=storage-pool\/k8s type=directory last-modified=\S+ \S+\r\n \r\n2 name=storage-pool\/k8s\/f1\.img type=\.img file size=10\.0GiB\r\n {2}last-modified=\S+ \S+\r\n$/,
    );
  });

  it("adds directories (parent must exist, no duplicates) and removes only empty ones", async () => {
    await ok("/file add type=directory name=storage-pool/k8s/sub");
    expect(await out("/file add type=directory name=storage-pool/k8s/sub")).toBe(
      "failure: already have such file or directory\r\n",
    );
    expect(await out("/file add type=directory name=storage-pool/x/y")).toBe(
      "failure: parent directory does not exist\r\n",
    );
    await ok("/disk add type=file slot=in-sub file-path=storage-pool/k8s/sub/v.img file-size=1M");
    expect(await out("/file remove storage-pool/k8s/sub")).toBe("failure: directory is not empty\r\n");
    expect(await out("/file remove storage-pool/k8s/sub/v.img")).toBe(
      "failure: file is used by a disk, remove the disk first\r\n",
    );
    await ok(
      "/disk remove in-sub; /file remove storage-pool/k8s/sub/v.img; /file remove storage-pool/k8s/sub",
    );
    expect(await out("/file remove storage-pool")).toBe("failure: can not remove a disk mount point\r\n");
  });
});

describe("/system", () => {
  it("reports version, board and packages", async () => {
    expect(await out(":put [/system resource get version]")).toBe("7.24.1 (stable)\r\n");
    const res = await out("/system resource print");
    expect(res).toMatch(/^ +version: 7\.24\.1 \(stable\)\r$/m);
    expect(res).toMatch(/^ +board-name: RDS2216\r$/m);
    expect(res).toMatch(/^ +free-memory: [\d.]+GiB\r$/m);
    const pkgs = await out(":put [/system package print as-value]");
    expect(pkgs).toContain("name=routeros;");
    expect(pkgs).toContain("name=rose-storage;");
    expect(await out("/system package print")).toMatch(/^1 rose-storage +7\.24\.1 /m);
  });
});
