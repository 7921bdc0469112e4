import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePrintDetail } from "../../src/rds/parse/print-detail.ts";
import { DISK_KEYS, FILE_KEYS, toFileDisk, toPool, toRdsFile } from "../../src/rds/parse/records.ts";
import { parseGroupedInt, parseSize, RdsParseError } from "../../src/rds/parse/values.ts";
import type { FileDisk } from "../../src/rds/types.ts";
import { toDetailRecord as toSimRecord } from "../../src/sim/items.ts";
import { DISK_FLAGS, fileDiskItem, fileItem, poolItem } from "../../src/sim/records.ts";
import { renderDetail as renderSimDetail } from "../../src/sim/render.ts";
import { fileDiskArb, poolArb } from "./arbitraries.ts";
import { fileDiskRecord, fileRecord, poolRecord, renderDetail } from "./helpers/render-detail.ts";

const crlf = (s: string) => s.replace(/\n/g, "\r\n");
const disks = (text: string, wrapWidth?: number) =>
  parsePrintDetail(text, { knownKeys: DISK_KEYS, ...(wrapWidth ? { wrapWidth } : {}) });

describe("print detail fixtures from real devices (docs/routeros.md §1.6b)", () => {
  it("parses the RDS2216 file disk", () => {
    const text = crlf(`Flags: B - BLOCK-DEVICE; t - NVME-TCP-EXPORT
31 Bt type=file slot="vm-storage-001" slot-default="" parent="" fs=- model="/raid10/vm-storage-001.img" size=1 099 511 627 776 mount-filesystem=no mount-read-only=no compress=no sector-size=512 raid-master=none nvme-tcp-export=yes
      nvme-tcp-server-port=4420 nvme-tcp-server-nqn="nqn.2026-09.com.mikrotik:rds2216.vm-storage-001" nvme-tcp-server-allow-host-name="" iscsi-export=no nfs-sharing=no smb-sharing=no media-sharing=no media-interface=none swap=no
      file-path=/raid10/vm-storage-001.img file-size=1024.0GiB file-offset=0
`);
    const [rec, ...rest] = disks(text);
    expect(rest).toEqual([]);
    expect(rec?.item).toBe("31");
    expect(rec?.flags).toBe("Bt");
    expect(rec?.props.get("file-size")).toBe("1024.0GiB");
    expect(rec?.props.get("model")).toBe("/raid10/vm-storage-001.img");
    expect(toFileDisk(rec as never)).toEqual({
      id: "",
      slot: "vm-storage-001",
      filePath: "raid10/vm-storage-001.img",
      sizeBytes: 1_099_511_627_776,
      nvmeExport: true,
      nvmePort: 4420,
      nqn: "nqn.2026-09.com.mikrotik:rds2216.vm-storage-001",
      allowedHosts: [],
      comment: "",
      disabled: false,
    });
  });

  it("parses the RDS2216 pool and a following RAID member (flags `BM ` and `B r`)", () => {
    const text = crlf(`Flags: B - BLOCK-DEVICE; M - MOUNTED; r - RAID-MEMBER
26 BM  type=raid slot="raid10" slot-default="" parent="" fs-label="ocp-storage" fs-uuid="4043...48ab" fs=xfs model="RAID0 striped" size=16 003 143 565 312 free=14 789 895 307 264 total-inodes=1 562 806 656
       free-inodes=1 562 806 652 use=8% mount-point="raid10" mount-filesystem=yes mount-read-only=no compress=no sector-size=512 raid-type=0 raid-device-count=4 raid-max-component-size=none raid-chunk-size=256K raid-master=none
       state="clean" raid-uuid="eadca0af-..." nvme-tcp-export=no iscsi-export=no nfs-sharing=no smb-sharing=no media-sharing=no media-interface=none swap=no
 
27 B r type=raid slot="raid10-m0" slot-default="" parent="raid10" fs=- size=4 000 785 891 328
`);
    const recs = disks(text);
    expect(recs.map((r) => [r.item, r.flags])).toEqual([
      ["26", "BM"],
      ["27", "Br"],
    ]);
    expect(recs[0]?.props.get("model")).toBe("RAID0 striped");
    expect(recs[0]?.props.get("use")).toBe("8%");
    expect(toPool(recs[0] as never)).toEqual({
      slot: "raid10",
      mountPoint: "raid10",
      fs: "xfs",
      fsLabel: "ocp-storage",
      sizeBytes: 16_003_143_565_312,
      freeBytes: 14_789_895_307_264,
    });
    expect(recs[1]?.props.get("parent")).toBe("raid10");
  });

  it("skips a two-line Flags legend (§1.6a)", () => {
    const text = crlf(`Flags: B - BLOCK-DEVICE; M - MOUNTED, S - SWAP-ENABLED
       g - GUID-PARTITION-TABLE, p - PARTITION
0 B g type=hardware slot="nvme9" size=1 024 209 543 168
1 BMp type=partition slot="nvme9-part1" size=4 000 000 000 mount-point="nvme9-part1" fs=ext4 free=3 000 000 000
`);
    const recs = disks(text);
    expect(recs.map((r) => r.flags)).toEqual(["Bg", "BMp"]);
    expect(toPool(recs[1] as never).freeBytes).toBe(3_000_000_000);
  });

  it("returns nothing for empty output and for a Flags header without items", () => {
    expect(disks("")).toEqual([]);
    expect(disks("\r\n \r\n")).toEqual([]);
    expect(disks("Flags: X - disabled, I - invalid\r\n")).toEqual([]);
    expect(disks("Flags: B - BLOCK-DEVICE; t - NVME-TCP-EXPORT\r\n\r\n")).toEqual([]);
  });

  it("refuses text that is not print detail output (an error message is never an empty result)", () => {
    expect(() => disks("no such item\r\n")).toThrow(RdsParseError);
    expect(() => disks("bad command name prnt (line 1 column 7)")).toThrow(RdsParseError);
    expect(() => disks('0 B type=file slot="x')).toThrow(/unterminated/);
  });
});

describe("print detail fixtures from the competitor (prior-art §2.3)", () => {
  it("parses the headerless single-disk fixture with 15-space continuations", () => {
    const text = `type=file slot="pvc-test-123" slot-default="" parent="" fs=-
               model="/storage-pool/test.img"
               size=53 687 091 200 mount-filesystem=yes mount-read-only=no
               compress=no sector-size=512 raid-master=none
               nvme-tcp-export=yes nvme-tcp-server-port=4420
               nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:pvc-test-123"
               nvme-tcp-server-allow-host-name="" iscsi-export=no
               nfs-sharing=no smb-sharing=no media-sharing=no
               media-interface=none swap=no
               file-path=/storage-pool/test.img
               file-size=50.0GiB file-offset=0`;
    const [rec] = disks(text);
    expect(toFileDisk(rec as never)).toMatchObject({
      slot: "pvc-test-123",
      filePath: "storage-pool/test.img",
      sizeBytes: 53_687_091_200,
      nvmeExport: true,
      nvmePort: 4420,
      nqn: "nqn.2000-02.com.mikrotik:pvc-test-123",
    });
    expect(rec?.props.size).toBe(25);
  });

  it("parses the multi-item list fixture", () => {
    const text = ` 0  type=file slot="pvc-test-1" size=53 687 091 200
               file-path=/storage-pool/test1.img file-size=50.0GiB
               nvme-tcp-export=yes nvme-tcp-server-port=4420
               nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:pvc-test-1"

 1  type=file slot="pvc-test-2" size=107 374 182 400
               file-path=/storage-pool/test2.img file-size=100.0GiB
               nvme-tcp-export=yes nvme-tcp-server-port=4420
               nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:pvc-test-2"`;
    const recs = disks(text).map(toFileDisk);
    expect(recs.map((d) => [d.slot, d.filePath, d.sizeBytes, d.nqn])).toEqual([
      ["pvc-test-1", "storage-pool/test1.img", 53_687_091_200, "nqn.2000-02.com.mikrotik:pvc-test-1"],
      ["pvc-test-2", "storage-pool/test2.img", 107_374_182_400, "nqn.2000-02.com.mikrotik:pvc-test-2"],
    ]);
  });

  it("parses the file list fixture (type value with a space, humanized sizes)", () => {
    const text = ` 0   name=storage-pool/metal-csi type=directory
     last-modified=2025-11-11 16:47:07

 1   name=storage-pool/metal-csi/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f.img
     type=.img file size=10.0GiB last-modified=2025-11-11 14:32:41

 2   name=storage-pool/metal-csi/pvc-0f923194-922a-5dd8-b376-c2c6ccb56dd8.img
     type=.img file size=1024.0MiB last-modified=2025-11-11 16:47:07`;
    const files = parsePrintDetail(text, { knownKeys: FILE_KEYS }).map(toRdsFile);
    expect(files).toEqual([
      { name: "storage-pool/metal-csi", type: "directory" },
      {
        name: "storage-pool/metal-csi/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f.img",
        type: ".img file",
        sizeBytes: 10 * 2 ** 30,
      },
      {
        name: "storage-pool/metal-csi/pvc-0f923194-922a-5dd8-b376-c2c6ccb56dd8.img",
        type: ".img file",
        sizeBytes: 2 ** 30,
      },
    ]);
  });

  it("re-joins a `.img file` type wrapped at its inner space", () => {
    const text = `name=storage-pool/metal-csi/test.img type=.img
                    file size=10.0GiB last-modified=2025-11-11 14:32:41`;
    const [rec] = parsePrintDetail(text, { knownKeys: FILE_KEYS });
    expect(toRdsFile(rec as never)).toEqual({
      name: "storage-pool/metal-csi/test.img",
      type: ".img file",
      sizeBytes: 10 * 2 ** 30,
    });
    expect(rec?.props.get("last-modified")).toBe("2025-11-11 14:32:41");
  });

  it("parses the mock capacity line", () => {
    const text =
      "slot=storage-pool type=partition mount-point=storage-pool file-system=btrfs size=7 949 127 950 336 free=5 963 595 964 416 use=25%";
    expect(toPool(disks(text)[0] as never)).toMatchObject({
      sizeBytes: 7_949_127_950_336,
      freeBytes: 5_963_595_964_416,
    });
  });
});

describe("wrapped values", () => {
  // Hand-written at width 42: every split line is exactly 42 characters long.
  it("re-joins a file-path, an NQN and a number split mid-token", () => {
    const lines = [
      ' 0 Bt type=file slot="pvc-1" size=1 099 51',
      "      1 627 776 nvme-tcp-export=yes",
      '      nvme-tcp-server-nqn="nqn.2026-09.com',
      '      .mikrotik:pvc-1"',
      "      file-path=/storage-pool/metal-csi/pv",
      "      c-xxx-yyy.img",
    ];
    for (const l of lines.filter((_, i) => i % 2 === 0)) expect(l.length).toBe(42);
    const [rec] = disks(lines.join("\r\n"));
    expect(toFileDisk(rec as never)).toMatchObject({
      sizeBytes: 1_099_511_627_776,
      nqn: "nqn.2026-09.com.mikrotik:pvc-1",
      filePath: "storage-pool/metal-csi/pvc-xxx-yyy.img",
    });
  });

  it("restores the space inside a quoted value: soft wrap, and hard split just before the space", () => {
    const head = ' 0 B  type=raid model="RAID0'; // 28 characters, properties at column 6
    const soft = [head, '      striped" slot="r"'].join("\n");
    expect(disks(soft, 29)[0]?.props.get("model")).toBe("RAID0 striped");
    const hard = [head, '       striped" slot="r"'].join("\n");
    expect(disks(hard, 28)[0]?.props.get("model")).toBe("RAID0 striped");
  });

  it("re-joins a key split across lines (known keys settle it)", () => {
    const text = [
      ' 0 Bt type=file slot="a" size=1 nvme-tcp-ser',
      "      ver-port=4420 file-path=/p/a.img",
    ].join("\n");
    expect(disks(text)[0]?.props.get("nvme-tcp-server-port")).toBe("4420");
  });

  it("re-joins a key split across lines without known keys (a bare key fragment is glued)", () => {
    const text = [
      ' 0 Bt type=file slot="a" size=1 nvme-tcp-ser',
      "      ver-port=4420 file-path=/p/a.img",
    ].join("\n");
    expect(parsePrintDetail(text)[0]?.props.get("nvme-tcp-server-port")).toBe("4420");
  });

  it("keeps a quoted value whose split remainder looks like key=value", () => {
    const text = [' 0 B  type=file comment="note: a', '      b=c d" slot="x"'].join("\n");
    expect(parsePrintDetail(text, { wrapWidth: 32 })[0]?.props.get("comment")).toBe("note: ab=c d");
    expect(parsePrintDetail(text, { wrapWidth: 33 })[0]?.props.get("comment")).toBe("note: a b=c d");
  });

  it("reads a comment wrapped over several lines, before the properties", () => {
    const comment = `rds-csi.v1:${"eyJhIjoxfQ".repeat(12)}`;
    const text = renderDetail([{ flags: "B", comment, props: [["type", "file"]] }], { width: 50 });
    expect(text.split("\r\n").length).toBeGreaterThan(3);
    expect(disks(text)[0]?.comment).toBe(comment);
  });

  it("decodes RouterOS escapes in quoted values", () => {
    const [rec] = disks(String.raw`0 type=file slot="a\"b\\c\$d" model="x\_y\41"`);
    expect(rec?.props.get("slot")).toBe('a"b\\c$d');
    expect(rec?.props.get("model")).toBe("x yA");
  });
});

describe("size values", () => {
  it("reads exact grouped numbers and humanized sizes", () => {
    expect(parseGroupedInt("1 099 511 627 776")).toBe(1_099_511_627_776);
    expect(parseGroupedInt("0")).toBe(0);
    expect(() => parseGroupedInt("12a")).toThrow(RdsParseError);
    expect(() => parseGroupedInt("99 999 999 999 999 999")).toThrow(/too large/);
    expect(parseSize("50.0GiB")).toBe(50 * 2 ** 30);
    expect(parseSize("1924.1KiB")).toBe(Math.round(1924.1 * 1024));
    expect(parseSize("5")).toBe(5);
    expect(parseSize("256K")).toBe(256 * 1024);
  });
});

describe("property: render → parse round trip", () => {
  const widthArb = fc.oneof(fc.constant(0), fc.integer({ min: 40, max: 300 }));
  const splitArb = fc.constantFrom<"fill" | "fresh">("fill", "fresh");

  it("file disks survive any width, either split style and either comment style", () => {
    const commentsArb = fc.constantFrom<"line" | "prop">("line", "prop");
    fc.assert(
      fc.property(
        fc.array(fileDiskArb, { minLength: 1, maxLength: 4 }),
        widthArb,
        splitArb,
        commentsArb,
        (list, width, split, comments) => {
          const text = renderDetail(list.map(fileDiskRecord), { width, split, comments });
          expect(disks(text).map(toFileDisk)).toEqual(list);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("file disks survive without known keys when long tokens start on a fresh line", () => {
    const noEquals = fileDiskArb.filter((d) => !d.comment.includes("="));
    fc.assert(
      fc.property(fc.array(noEquals, { minLength: 1, maxLength: 3 }), widthArb, (list, width) => {
        const text = renderDetail(list.map(fileDiskRecord), { width, split: "fresh" });
        expect(parsePrintDetail(text).map(toFileDisk)).toEqual(list);
      }),
      { numRuns: 200 },
    );
  });

  it("pools and files survive any width", () => {
    fc.assert(
      fc.property(poolArb, widthArb, splitArb, (pool, width, split) => {
        expect(disks(renderDetail([poolRecord(pool)], { width, split })).map(toPool)).toEqual([
          { ...pool, fsLabel: "ocp-storage" },
        ]);
      }),
      { numRuns: 200 },
    );
    const fileArb = fc.record({
      name: fc.stringMatching(/^[a-z0-9-]{1,20}(\/[A-Za-z0-9._-]{1,60}){1,3}$/),
      type: fc.constantFrom("directory", ".img file", "file"),
      sizeBytes: fc.integer({ min: 0, max: 9 }),
    });
    fc.assert(
      fc.property(
        fc.array(fileArb, { minLength: 1, maxLength: 3 }),
        widthArb,
        splitArb,
        (files, width, split) => {
          const parsed = parsePrintDetail(renderDetail(files.map(fileRecord), { width, split }), {
            knownKeys: FILE_KEYS,
          });
          expect(parsed.map(toRdsFile)).toEqual(files);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("property: the simulator's renderer (src/sim/render.ts) → parse round trip", () => {
  const widthArb = fc.oneof(fc.constant(0), fc.integer({ min: 40, max: 300 }));
  const simDisk = (d: FileDisk, i: number) =>
    toSimRecord(
      fileDiskItem(
        {
          id: `*${i + 1}`,
          slot: d.slot,
          filePath: d.filePath,
          fileSize: d.sizeBytes,
          fileOffset: 0,
          ...(d.comment !== "" ? { comment: d.comment } : {}),
          disabled: d.disabled,
          nvmeExport: d.nvmeExport,
          nvmePort: d.nvmePort ?? 4420,
          nqn: d.nqn ?? "",
          allowHost: d.allowedHosts.join(","),
          password: "",
        },
        i,
      ),
    );

  it("file disks (with and without known keys)", () => {
    fc.assert(
      fc.property(fc.array(fileDiskArb, { minLength: 1, maxLength: 4 }), widthArb, (list, width) => {
        const text = renderSimDetail(list.map(simDisk), { width, flagDefs: DISK_FLAGS });
        expect(disks(text).map(toFileDisk)).toEqual(list);
        const plain = list.filter((d) => !d.comment.includes("="));
        expect(
          parsePrintDetail(renderSimDetail(plain.map(simDisk), { width, flagDefs: DISK_FLAGS })).map(
            toFileDisk,
          ),
        ).toEqual(plain);
      }),
      { numRuns: 400 },
    );
  });

  it("pools and files", () => {
    fc.assert(
      fc.property(poolArb, widthArb, (pool, width) => {
        const item = poolItem(
          {
            id: "*1",
            name: pool.slot,
            fs: pool.fs,
            sizeBytes: pool.sizeBytes,
            freeBytes: pool.freeBytes,
            entries: 3,
          },
          0,
        );
        const [parsed] = disks(renderSimDetail([toSimRecord(item)], { width, flagDefs: DISK_FLAGS })).map(
          toPool,
        );
        expect(parsed).toEqual({ ...pool, mountPoint: pool.slot, fsLabel: pool.slot });
      }),
      { numRuns: 200 },
    );
    const fileArb = fc.record({
      name: fc.stringMatching(/^[a-z0-9-]{1,20}(\/[A-Za-z0-9._-]{1,60}){1,3}$/),
      type: fc.constantFrom("directory", ".img file", "file"),
      size: fc.integer({ min: 0, max: 9 }),
    });
    fc.assert(
      fc.property(fc.array(fileArb, { minLength: 1, maxLength: 3 }), widthArb, (files, width) => {
        const items = files.map((f, i) =>
          toSimRecord(fileItem({ id: `*${i}`, ...f, lastModified: new Date(0) }, i)),
        );
        const parsed = parsePrintDetail(renderSimDetail(items, { width }), { knownKeys: FILE_KEYS }).map(
          toRdsFile,
        );
        expect(parsed).toEqual(files.map((f) => ({ name: f.name, type: f.type, sizeBytes: f.size })));
      }),
      { numRuns: 200 },
    );
  });
});
