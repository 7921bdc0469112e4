// Pure renderer tests: the documented RDS2216 `print detail` samples (docs/routeros.md §1.6b) must be
// reproduced byte for byte, and the formatting rules (§1.6f, quoting, wrapping) hold at any width.
import { describe, expect, it } from "vitest";
import { toDetailRecord } from "../../src/sim/items.ts";
import { DISK_FLAGS, type FileDiskState, fileDiskItem, poolItem } from "../../src/sim/records.ts";
import {
  groupDigits,
  humanSize,
  quoteString,
  renderAsValue,
  renderDetail,
  renderTable,
  wrapTokens,
} from "../../src/sim/render.ts";

const crlf = (s: string): string => s.replace(/\n/g, "\r\n");

const vmStorage: FileDiskState = {
  id: "*1F",
  slot: "vm-storage-001",
  filePath: "raid10/vm-storage-001.img",
  fileSize: 2 ** 40,
  fileOffset: 0,
  disabled: false,
  nvmeExport: true,
  nvmePort: 4420,
  nqn: "nqn.2026-09.com.mikrotik:rds2216.vm-storage-001",
  allowHost: "",
  password: "",
};

describe("value formatting", () => {
  it("groups digits with spaces", () => {
    expect(groupDigits(1099511627776)).toBe("1 099 511 627 776");
    expect(groupDigits(16003143565312)).toBe("16 003 143 565 312");
    expect(groupDigits(512)).toBe("512");
    expect(groupDigits(4096)).toBe("4 096");
    expect(groupDigits(0)).toBe("0");
  });

  it("humanizes sizes with the largest binary unit that is at least 10 (§1.6f samples)", () => {
    expect(humanSize(2 ** 40)).toBe("1024.0GiB");
    expect(humanSize(50 * 2 ** 30)).toBe("50.0GiB");
    expect(humanSize(Math.round(11.1 * 2 ** 20))).toBe("11.1MiB");
    expect(humanSize(Math.round(1924.1 * 1024))).toBe("1924.1KiB");
    expect(humanSize(1196 * 1024)).toBe("1196.0KiB");
    expect(humanSize(16 * 2 ** 20)).toBe("16.0MiB");
    expect(humanSize(Math.round(26.1 * 2 ** 30))).toBe("26.1GiB");
    expect(humanSize(2 ** 30)).toBe("1024.0MiB");
    expect(humanSize(10 * 2 ** 40)).toBe("10.0TiB");
    expect(humanSize(5)).toBe("5");
    expect(humanSize(0)).toBe("0");
    expect(humanSize(10239)).toBe("10239");
    expect(humanSize(10240)).toBe("10.0KiB");
  });

  it("quotes strings with RouterOS escapes", () => {
    expect(quoteString("")).toBe('""');
    expect(quoteString('a "b" \\ $c')).toBe('"a \\"b\\" \\\\ \\$c"');
    expect(quoteString("x\ny\tz\x01")).toBe('"x\\ny\\tz\\01"');
  });
});

describe("renderDetail: documented RDS2216 samples", () => {
  it("reproduces the file disk sample exactly (wide console)", () => {
    const doc = crlf(`Flags: B - BLOCK-DEVICE; t - NVME-TCP-EXPORT
31 Bt type=file slot="vm-storage-001" slot-default="" parent="" fs=- model="/raid10/vm-storage-001.img" size=1 099 511 627 776 mount-filesystem=no mount-read-only=no compress=no sector-size=512 raid-master=none nvme-tcp-export=yes
      nvme-tcp-server-port=4420 nvme-tcp-server-nqn="nqn.2026-09.com.mikrotik:rds2216.vm-storage-001" nvme-tcp-server-allow-host-name="" iscsi-export=no nfs-sharing=no smb-sharing=no media-sharing=no media-interface=none swap=no
      file-path=/raid10/vm-storage-001.img file-size=1024.0GiB file-offset=0
`);
    const out = renderDetail([toDetailRecord(fileDiskItem(vmStorage, 31))], {
      width: 240,
      flagDefs: DISK_FLAGS,
    });
    expect(out).toBe(doc);
  });

  it("reproduces the pool sample layout (flag field as wide as the widest row, indent 7)", () => {
    const doc =
      crlf(`26 BM  type=raid slot="raid10" slot-default="" parent="" fs-label="ocp-storage" fs-uuid="4043...48ab" fs=xfs model="RAID0 striped" size=16 003 143 565 312 free=14 789 895 307 264 total-inodes=1 562 806 656
       free-inodes=1 562 806 652 use=8% mount-point="raid10" mount-filesystem=yes mount-read-only=no compress=no sector-size=512 raid-type=0 raid-device-count=4 raid-max-component-size=none raid-chunk-size=256K raid-master=none
       state="clean" raid-uuid="eadca0af-..." nvme-tcp-export=no iscsi-export=no nfs-sharing=no smb-sharing=no media-sharing=no media-interface=none swap=no
 
27 B r type=raid slot="raid10-m0"
`);
    const pool = poolItem(
      {
        id: "*1A",
        name: "raid10",
        fs: "xfs",
        sizeBytes: 16003143565312,
        freeBytes: 14789895307264,
        entries: 0,
      },
      26,
    );
    // The sample's label, uuids and inode counts are not derivable from the pool size: take them verbatim.
    const sample: Record<string, string | number> = {
      "fs-label": "ocp-storage",
      "fs-uuid": "4043...48ab",
      "raid-uuid": "eadca0af-...",
      "total-inodes": 1562806656,
      "free-inodes": 1562806652,
    };
    for (const p of pool.props) if (p.key in sample) p.value = sample[p.key] as string | number;
    const member = {
      number: 27,
      flags: "Br",
      props: [
        { key: "type", text: "raid" },
        { key: "slot", text: '"raid10-m0"' },
      ],
    };
    const out = renderDetail([toDetailRecord(pool), member], { width: 229, flagDefs: DISK_FLAGS });
    expect(out).toBe(`Flags: B - BLOCK-DEVICE; M - MOUNTED; r - RAID-MEMBER\r\n${doc}`);
  });

  it("prints server-* settings only when exported", () => {
    const out = renderDetail([toDetailRecord(fileDiskItem({ ...vmStorage, nvmeExport: false }, 0))], {
      width: 0,
      flagDefs: DISK_FLAGS,
    });
    expect(out).toBe(
      crlf(`Flags: B - BLOCK-DEVICE
0 B type=file slot="vm-storage-001" slot-default="" parent="" fs=- model="/raid10/vm-storage-001.img" size=1 099 511 627 776 mount-filesystem=no mount-read-only=no compress=no sector-size=512 raid-master=none nvme-tcp-export=no iscsi-export=no nfs-sharing=no smb-sharing=no media-sharing=no media-interface=none swap=no file-path=/raid10/vm-storage-001.img file-size=1024.0GiB file-offset=0
`),
    );
  });

  it("prints nothing for no records", () => {
    expect(renderDetail([], { width: 80, flagDefs: DISK_FLAGS })).toBe("");
  });
});

describe("renderDetail: wrapping", () => {
  const longPath = "storage-pool/metal-csi/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f.img";
  const rec = toDetailRecord(fileDiskItem({ ...vmStorage, slot: "pvc-x", filePath: longPath }, 3));

  /** Record lines of a rendering (the legend may wrap too at small widths). */
  const recordLines = (out: string): string[] => {
    const lines = out.split("\r\n").slice(0, -1);
    return lines.slice(lines.findIndex((l) => l.startsWith("3 ")));
  };

  it("never lets a line exceed the width, at any width, and loses no character", () => {
    const unwrapped = recordLines(renderDetail([rec], { width: 0, flagDefs: DISK_FLAGS }));
    expect(unwrapped).toHaveLength(1);
    for (let width = 20; width <= 200; width++) {
      const lines = recordLines(renderDetail([rec], { width, flagDefs: DISK_FLAGS }));
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width);
      for (const l of lines.slice(1)) expect(l.startsWith("     ")).toBe(true);
      expect(lines.join("").replace(/\s/g, "")).toBe(unwrapped.join("").replace(/\s/g, ""));
    }
  });

  it("splits a value longer than the line inside the value (competitor fixture behaviour)", () => {
    const out = renderDetail([rec], { width: 80, flagDefs: DISK_FLAGS });
    const lines = out.split("\r\n");
    const at = lines.findIndex((l) => l.includes("file-path="));
    expect(lines[at]).toBe(`     file-path=/${longPath}`.slice(0, 80));
    expect(lines[at + 1]).toBe(
      `     ${`     file-path=/${longPath}`.slice(80)} file-size=1024.0GiB file-offset=0`,
    );
  });

  it("puts the comment after the flags and the properties on the next line; wraps long comments", () => {
    const withComment = toDetailRecord(
      fileDiskItem(
        { ...vmStorage, comment: "rds-csi volume pvc-1 created by the controller for namespace default" },
        5,
      ),
    );
    const lines = renderDetail([withComment], { width: 40, flagDefs: DISK_FLAGS }).split("\r\n");
    expect(lines.slice(0, 6)).toEqual([
      "Flags: B - BLOCK-DEVICE",
      "       t - NVME-TCP-EXPORT",
      "5 Bt ;;; rds-csi volume pvc-1 created by",
      "     the controller for namespace",
      "     default",
      '     type=file slot="vm-storage-001"',
    ]);
  });

  it("lays out tokens: breaks between tokens, splits only what cannot fit", () => {
    expect(wrapTokens(["aaa", "bbb", "ccc"], "0 ", 2, 9)).toEqual(["0 aaa bbb", "  ccc"]);
    expect(wrapTokens(["abcdefghijkl"], "0 ", 2, 6)).toEqual(["0 abcd", "  efgh", "  ijkl"]);
    expect(wrapTokens(["a", "b"], "0 ", 2, 0)).toEqual(["0 a b"]);
  });
});

describe("renderTable and as-value", () => {
  it("renders the documented /disk table layout", () => {
    const out = renderTable(
      [
        { title: "SLOT" },
        { title: "MOUNT-POINT" },
        { title: "SIZE", align: "right" },
        { title: "FS" },
        { title: "SWAP" },
      ],
      [
        { number: 0, flags: "Bg", cells: ["nvme9", "", "1 024 209 543 168", "-", "no"] },
        { number: 1, flags: "BMp", cells: ["nvme9-part1", "nvme9-part1", "4 000 000 000", "ext4", "no"] },
        { number: 2, flags: "S", cells: ["file-nvme9-part1-swapfile", "", "536 866 816", "-", "yes"] },
      ],
      { width: 80, flagDefs: DISK_FLAGS },
    );
    expect(out).toBe(
      crlf(`Flags: B - BLOCK-DEVICE; M - MOUNTED, S - SWAP-ENABLED
       g - GUID-PARTITION-TABLE, p - PARTITION
Columns: SLOT, MOUNT-POINT, SIZE, FS, SWAP
#     SLOT                       MOUNT-POINT               SIZE  FS    SWAP
0 B g nvme9                                   1 024 209 543 168  -     no
1 BMp nvme9-part1                nvme9-part1      4 000 000 000  ext4  no
2  S  file-nvme9-part1-swapfile                     536 866 816  -     yes
`),
    );
  });

  it("chains as-value records with ;", () => {
    expect(
      renderAsValue([
        [
          [".id", "*1"],
          ["slot", "a"],
        ],
        [
          [".id", "*2"],
          ["slot", "b"],
        ],
      ]),
    ).toBe(".id=*1;slot=a;.id=*2;slot=b");
  });
});
