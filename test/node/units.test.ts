// Pure parts of the node service: host NQN derivation, mountinfo parsing, option validation, NVMe target
// parsing and connect arguments.
import { describe, expect, it } from "vitest";
import { Code } from "../../src/csi/errors.ts";
import { PublishKey } from "../../src/csi/volume-context.ts";
import { validateMkfsOptions } from "../../src/node/mount/mkfs.ts";
import { perMountFlags, validateMountFlags } from "../../src/node/mount/mount-flags.ts";
import { mountAt, parseMountInfo, unescapeMountField } from "../../src/node/mount/mountinfo.ts";
import { parseBlkidExport } from "../../src/node/mount/probe.ts";
import { splitDev } from "../../src/node/nvme/block-device.ts";
import { deriveHostNqn, hostIdForNqn, uuidV5 } from "../../src/node/nvme/host-nqn.ts";
import { buildConnectArgs, NVME_DEFAULTS, parseNvmeTarget } from "../../src/node/nvme/nvme-target.ts";
import { stageMountOptions } from "../../src/node/stage.ts";

const codeOfSync = (fn: () => unknown): number => {
  try {
    fn();
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error("expected a throw");
};

describe("host NQN", () => {
  it("is stable, unique per node and driver, and in the NVMe UUID form", () => {
    const a = deriveHostNqn("worker-1", "rds.csi.mikrotik.com");
    expect(a).toBe(deriveHostNqn("worker-1", "rds.csi.mikrotik.com"));
    expect(a).toMatch(
      /^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const others = new Set(
      ["worker-2", "worker-10", "Worker-1", "worker-1 "].map((n) => deriveHostNqn(n, "rds.csi.mikrotik.com")),
    );
    others.add(deriveHostNqn("worker-1", "other.driver"));
    expect(others.size).toBe(5);
    expect(others.has(a)).toBe(false);
    expect(() => deriveHostNqn("", "d")).toThrow(/node id/);
  });

  it("matches the RFC 9562 UUIDv5 test vector", () => {
    // DNS namespace, "www.example.com" → 2ed6657d-e927-568b-95e1-2665a8aea6a2 (RFC 9562 appendix A.4)
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });

  it("pairs a host id with the NQN (the UUID itself for UUID NQNs)", () => {
    const nqn = deriveHostNqn("n", "d");
    expect(hostIdForNqn(nqn)).toBe(nqn.split(":uuid:")[1]);
    expect(hostIdForNqn("nqn.2020-01.org.example:host1")).toBe(hostIdForNqn("nqn.2020-01.org.example:host1"));
    expect(hostIdForNqn("nqn.2020-01.org.example:host1")).not.toBe(
      hostIdForNqn("nqn.2020-01.org.example:host2"),
    );
  });
});

describe("mountinfo", () => {
  const sample = [
    "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
    "100 29 7:3 / /var/lib/kubelet/pods/x/volumes/with\\040space rw,relatime shared:5 - ext4 /dev/loop3 rw",
    "101 29 7:3 / /stage rw,relatime - ext4 /dev/loop3 ro,errors=remount-ro",
    "102 29 7:3 / /stage ro,relatime - ext4 /dev/loop3 ro",
    "garbage line",
  ].join("\n");

  it("parses fields, optional fields and octal escapes", () => {
    const m = parseMountInfo(sample);
    expect(m).toHaveLength(4);
    expect(m[0]).toMatchObject({
      mountId: 36,
      parentId: 35,
      major: 98,
      minor: 0,
      root: "/mnt1",
      mountPoint: "/mnt2",
      fsType: "ext3",
      source: "/dev/root",
    });
    expect(m[0]?.optionalFields).toEqual(["master:1"]);
    expect(m[0]?.superOptions).toEqual(["rw", "errors=continue"]);
    expect(m[1]?.mountPoint).toBe("/var/lib/kubelet/pods/x/volumes/with space");
    expect(unescapeMountField("a\\011b\\012c\\134d")).toBe("a\tb\nc\\d");
  });

  it("returns the top of a mount stack", () => {
    expect(mountAt(parseMountInfo(sample), "/stage")?.mountId).toBe(102);
    expect(mountAt(parseMountInfo(sample), "/stage/")?.mountId).toBe(102);
    expect(mountAt(parseMountInfo(sample), "/nope")).toBeUndefined();
  });
});

describe("mount options", () => {
  it("allows the documented safe set and splits comma lists", () => {
    expect(validateMountFlags(["noatime,nodiratime", "discard", "defaults"], "ext4")).toEqual([
      "noatime",
      "nodiratime",
      "discard",
    ]);
    expect(validateMountFlags(["data=ordered", "commit=30", "errors=remount-ro"], "ext4")).toHaveLength(3);
    expect(validateMountFlags(["nouuid", "logbufs=8", "allocsize=64m"], "xfs")).toHaveLength(3);
  });

  it.each([
    ["bind", "ext4"],
    ["remount", "ext4"],
    ["loop", "ext4"],
    ["errors=panic", "ext4"],
    ["nobarrier", "ext4"],
    ["context=system_u:object_r:x", "ext4"],
    ["nouuid", "ext4"],
    ["data=ordered", "xfs"],
    ["commit=30;rm -rf /", "ext4"],
  ])("refuses %s for %s", (flag, fs) => {
    expect(codeOfSync(() => validateMountFlags([flag], fs))).toBe(Code.INVALID_ARGUMENT);
  });

  it("keeps only per-mount flags for bind mounts", () => {
    expect(perMountFlags(["noatime", "discard", "nosuid", "data=ordered"])).toEqual(["noatime", "nosuid"]);
  });

  it("adds the staging defaults", () => {
    expect(stageMountOptions("ext4", ["noatime"], false)).toEqual(["noatime", "errors=remount-ro"]);
    expect(stageMountOptions("ext4", ["errors=continue"], false)).toEqual(["errors=continue"]);
    expect(stageMountOptions("xfs", [], false)).toEqual(["nouuid"]);
    expect(stageMountOptions("ext4", ["rw"], true)).toEqual(["ro", "noload", "errors=remount-ro"]);
    expect(stageMountOptions("xfs", [], true)).toEqual(["ro", "norecovery", "nouuid"]);
  });
});

describe("mkfs options", () => {
  it("accepts value options for each tool", () => {
    expect(validateMkfsOptions("ext4", " -E lazy_itable_init=1,root_owner=1000:1000  -L data -j ")).toEqual([
      "-E",
      "lazy_itable_init=1,root_owner=1000:1000",
      "-L",
      "data",
      "-j",
    ]);
    expect(validateMkfsOptions("xfs", "-m reflink=1,bigtime=1 -K")).toEqual([
      "-m",
      "reflink=1,bigtime=1",
      "-K",
    ]);
    expect(validateMkfsOptions("ext4", undefined)).toEqual([]);
  });

  it.each([
    ["ext4", "-d etc"],
    ["ext4", "-F"],
    ["ext4", "-S"],
    ["ext4", "-E"],
    ["ext4", "-L /etc/passwd"],
    ["ext4", "-L $(reboot)"],
    ["xfs", "-f"],
    ["xfs", "-p proto"],
    ["xfs", "-l logdev=sdb"],
    ["xfs", "-d name=img,file"],
    ["xfs", "-c options=x"],
  ])("refuses %s %s", (fs, opts) => {
    expect(codeOfSync(() => validateMkfsOptions(fs, opts))).toBe(Code.INVALID_ARGUMENT);
  });
});

describe("NVMe/TCP target from the publish context", () => {
  const base = {
    [PublishKey.nqn]: "nqn.2026-01.com.mikrotik.rds-csi:pvc-1",
    [PublishKey.address]: "10.0.0.5",
  };

  it("fills documented defaults and passes tuning through", () => {
    expect(parseNvmeTarget(base)).toEqual({
      kind: "nvme-tcp",
      nqn: base[PublishKey.nqn],
      address: "10.0.0.5",
      port: 4420,
      ctrlLossTmo: NVME_DEFAULTS.ctrlLossTmo,
      reconnectDelay: 5,
    });
    const t = parseNvmeTarget({
      ...base,
      [PublishKey.port]: "4421",
      [PublishKey.ctrlLossTmo]: "-1",
      [PublishKey.reconnectDelay]: "2",
      [PublishKey.keepAliveTmo]: "7",
      [PublishKey.nrIoQueues]: "4",
    });
    const args = buildConnectArgs(t, { hostNqn: "nqn.h", hostId: "id" });
    expect(args).toEqual([
      "connect",
      "--transport=tcp",
      "--traddr=10.0.0.5",
      "--trsvcid=4421",
      `--nqn=${base[PublishKey.nqn]}`,
      "--hostnqn=nqn.h",
      "--hostid=id",
      "--ctrl-loss-tmo=120", // -1 (forever) is capped: a lost session must not come back (MAX_SESSION_LOSS_S)
      "--reconnect-delay=2",
      "--keep-alive-tmo=7",
      "--nr-io-queues=4",
    ]);
  });

  it.each([
    [{ [PublishKey.address]: "10.0.0.5" }],
    [{ ...base, [PublishKey.address]: "rds.example.com,nqn=evil" }], // a host name is fine (issue 14.1), this is not
    [{ ...base, [PublishKey.nqn]: "nqn.x,hostnqn=evil" }],
    [{ ...base, [PublishKey.nqn]: "a".repeat(224) }],
    [{ ...base, [PublishKey.port]: "70000" }],
    [{ ...base, [PublishKey.ctrlLossTmo]: "-2" }],
    [{ ...base, [PublishKey.reconnectDelay]: "1e3" }],
  ])("refuses %j", (ctx) => {
    expect(codeOfSync(() => parseNvmeTarget(ctx))).toBe(Code.INVALID_ARGUMENT);
  });
});

describe("small parsers", () => {
  it("blkid export, dev_t", () => {
    expect(parseBlkidExport("DEVNAME=/dev/loop0\nUUID=abc\nTYPE=ext4\n")).toEqual({
      DEVNAME: "/dev/loop0",
      UUID: "abc",
      TYPE: "ext4",
    });
    expect(splitDev((259n << 8n) | 3n)).toEqual({ major: 259, minor: 3 });
    // minor above 255 uses the high bits (glibc makedev)
    expect(splitDev((7n << 8n) | (1n << 20n) | 5n)).toEqual({ major: 7, minor: 261 });
  });
});
