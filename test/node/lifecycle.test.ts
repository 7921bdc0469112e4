// Full node lifecycles through a real CSI gRPC server, with the loop transport over sparse image files:
// real loop devices, mkfs, fsck, mount, bind mounts, device nodes and kubelet-style losetup. Every call is
// repeated 10 times (csi-sanity's IdempotentCount) and the data must survive unstage and restage.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, open, readFile, stat, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "../../src/csi/errors.ts";
import { parseMountInfo } from "../../src/node/mount/mountinfo.ts";
import { STATE_FILE } from "../../src/node/stage-state.ts";
import {
  blockCap,
  cleanupWorkdir,
  codeOf,
  createImage,
  exists,
  hasCapSysResource,
  isMounted,
  loopContext,
  loopsUnder,
  MiB,
  makeWorkdir,
  mountCap,
  type NodeServer,
  sh,
  startNodeServer,
} from "./helpers.ts";

const REPEAT = 10;

let dir: string;
let root: string;
let srv: NodeServer;

beforeEach(async () => {
  dir = await makeWorkdir("life");
  root = join(dir, "rds");
  await mkdir(root);
  srv = await startNodeServer(dir, root, { resizeWaitMs: 1000 });
});

afterEach(async () => {
  await srv?.stop();
  await cleanupWorkdir(dir);
});

function volume(id: string, file: string, cap: ReturnType<typeof mountCap>) {
  const staging = join(dir, "staging", id);
  return {
    staging,
    stage: {
      volume_id: id,
      staging_target_path: staging,
      publish_context: loopContext(file),
      volume_capability: cap,
    },
    publish: (target: string, readonly = false) => ({
      volume_id: id,
      staging_target_path: staging,
      target_path: target,
      publish_context: loopContext(file),
      volume_capability: cap,
      readonly,
    }),
  };
}

async function repeat(n: number, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i++) await fn();
}

describe.each([
  ["ext4", 64 * MiB],
  ["xfs", 320 * MiB],
])("%s filesystem volume", (fsType, size) => {
  it("stages, publishes, keeps data across unstage/restage, and every call is idempotent", async () => {
    const file = "storage-pool/k8s/pvc-fs.img";
    await createImage(root, file, size);
    const v = volume("pvc-fs", file, mountCap(fsType));
    await mkdir(v.staging, { recursive: true }); // the CO creates the staging directory
    const target = join(dir, "pods", "pod-1", "volumes", "pvc-fs", "mount");

    await repeat(REPEAT, () => srv.node.NodeStageVolume(v.stage));
    expect(isMounted(v.staging)).toBe(true);
    expect(sh("blkid", ["-p", "-o", "value", "-s", "TYPE", join(root, file)]).trim()).toBe(fsType);
    expect(loopsUnder(root)).toHaveLength(1);

    await repeat(REPEAT, () => srv.node.NodePublishVolume(v.publish(target)));
    expect(isMounted(target)).toBe(true);
    await writeFile(join(target, "hello.txt"), "survives restage");

    const stats = await srv.node.NodeGetVolumeStats({ volume_id: "pvc-fs", volume_path: target });
    const bytes = stats.usage.find((u) => u.unit === "BYTES");
    const inodes = stats.usage.find((u) => u.unit === "INODES");
    expect(Number(bytes?.total)).toBeGreaterThan(size / 2);
    expect(Number(bytes?.used)).toBeGreaterThan(0);
    expect(Number(inodes?.used)).toBeGreaterThan(0);
    expect(stats.volume_condition).toEqual({ abnormal: false, message: "volume is healthy" });

    await repeat(REPEAT, () => srv.node.NodeUnpublishVolume({ volume_id: "pvc-fs", target_path: target }));
    expect(exists(target)).toBe(false); // the driver removes what it created
    await repeat(REPEAT, () =>
      srv.node.NodeUnstageVolume({ volume_id: "pvc-fs", staging_target_path: v.staging }),
    );
    expect(isMounted(v.staging)).toBe(false);
    expect(loopsUnder(root)).toEqual([]);
    expect(exists(join(v.staging, STATE_FILE))).toBe(false);

    // Restage: the existing filesystem is checked and mounted, never reformatted.
    await srv.node.NodeStageVolume(v.stage);
    await srv.node.NodePublishVolume(v.publish(target));
    expect(await readFile(join(target, "hello.txt"), "utf8")).toBe("survives restage");
    await srv.node.NodeUnpublishVolume({ volume_id: "pvc-fs", target_path: target });
    await srv.node.NodeUnstageVolume({ volume_id: "pvc-fs", staging_target_path: v.staging });
    expect(loopsUnder(root)).toEqual([]);
  });

  // Online ext4 growth needs CAP_SYS_RESOURCE (the kernel's EXT4_IOC_RESIZE_FS checks it); a privileged
  // node plugin has it. Where the test process lacks it, the clear refusal is what is checked instead.
  const canGrow = fsType !== "ext4" || hasCapSysResource();
  it.runIf(!canGrow)("explains a refused online resize (no CAP_SYS_RESOURCE here)", async () => {
    const file = "storage-pool/k8s/pvc-nocap.img";
    await createImage(root, file, size);
    const v = volume("pvc-nocap", file, mountCap(fsType));
    const target = join(dir, "pods", "pod-1", "nocap");
    await srv.node.NodeStageVolume(v.stage);
    await srv.node.NodePublishVolume(v.publish(target));
    await truncate(join(root, file), size * 2);
    const r = await codeOf(
      srv.node.NodeExpandVolume({
        volume_id: "pvc-nocap",
        volume_path: target,
        capacity_range: { required_bytes: String(size * 2) },
      }),
    );
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toMatch(/CAP_SYS_RESOURCE/);
  });

  it.runIf(canGrow)(
    "grows online with NodeExpandVolume after the export grew",
    async () => {
      const file = "storage-pool/k8s/pvc-grow.img";
      await createImage(root, file, size);
      const v = volume("pvc-grow", file, mountCap(fsType));
      const target = join(dir, "pods", "pod-1", "grow");
      await srv.node.NodeStageVolume(v.stage);
      await srv.node.NodePublishVolume(v.publish(target));
      const before = Number(sh("df", ["--output=size", "-B1", target]).split("\n")[1]);

      await truncate(join(root, file), size * 2); // the RDS grew the disk file (ControllerExpandVolume)
      for (let i = 0; i < 3; i++) {
        const res = await srv.node.NodeExpandVolume({
          volume_id: "pvc-grow",
          volume_path: target,
          capacity_range: { required_bytes: String(size * 2) },
        });
        expect(Number(res.capacity_bytes)).toBe(size * 2);
      }
      const after = Number(sh("df", ["--output=size", "-B1", target]).split("\n")[1]);
      expect(after).toBeGreaterThan(before * 1.8);

      // A request for more than the export has is an error kubelet retries, not a silent success.
      const tooBig = await codeOf(
        srv.node.NodeExpandVolume({
          volume_id: "pvc-grow",
          volume_path: target,
          capacity_range: { required_bytes: String(size * 4) },
        }),
      );
      expect(tooBig.code).toBe(Code.UNAVAILABLE);
    },
    60_000,
  );
});

describe("block volume", () => {
  it("publishes a device node that kubelet can losetup; data survives unstage/restage", async () => {
    const file = "storage-pool/k8s/pvc-blk.img";
    await createImage(root, file, 64 * MiB);
    const v = volume("pvc-blk", file, blockCap());
    const target = join(dir, "plugins", "volumeDevices", "publish", "pvc-blk", "pod-uid-1");

    await repeat(REPEAT, () => srv.node.NodeStageVolume(v.stage));
    expect(isMounted(v.staging)).toBe(false); // nothing is mounted for block volumes
    await repeat(REPEAT, () => srv.node.NodePublishVolume(v.publish(target)));
    const st = await stat(target);
    expect(st.isBlockDevice()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);

    // What kubelet does with a published block volume: pin it with a loop device, then use that.
    const kubeletLoop = sh("losetup", ["-f", "--show", target]).trim();
    try {
      const pattern = randomBytes(MiB);
      const fh = await open(kubeletLoop, "r+");
      await fh.write(pattern, 0, pattern.length, 8 * MiB);
      await fh.sync();
      await fh.close();
      const back = Buffer.alloc(MiB);
      const rh = await open(target, "r");
      await rh.read(back, 0, MiB, 8 * MiB);
      await rh.close();
      expect(back.equals(pattern)).toBe(true);

      const stats = await srv.node.NodeGetVolumeStats({ volume_id: "pvc-blk", volume_path: target });
      expect(stats.usage).toEqual([expect.objectContaining({ unit: "BYTES", total: String(64 * MiB) })]);
      expect(stats.volume_condition?.abnormal).toBe(false);

      // Unstage while still published and pinned: refused, nothing detached.
      const busy = await codeOf(
        srv.node.NodeUnstageVolume({ volume_id: "pvc-blk", staging_target_path: v.staging }),
      );
      expect(busy.code).toBe(Code.FAILED_PRECONDITION);
      expect(busy.message).toMatch(/still published/);
      expect(loopsUnder(root)).toHaveLength(1);
    } finally {
      sh("losetup", ["-d", kubeletLoop]);
    }

    // Block expansion only rescans.
    await truncate(join(root, file), 128 * MiB);
    const grown = await srv.node.NodeExpandVolume({
      volume_id: "pvc-blk",
      volume_path: target,
      capacity_range: { required_bytes: String(128 * MiB) },
    });
    expect(Number(grown.capacity_bytes)).toBe(128 * MiB);

    await repeat(REPEAT, () => srv.node.NodeUnpublishVolume({ volume_id: "pvc-blk", target_path: target }));
    expect(exists(target)).toBe(false);
    await repeat(REPEAT, () =>
      srv.node.NodeUnstageVolume({ volume_id: "pvc-blk", staging_target_path: v.staging }),
    );
    expect(loopsUnder(root)).toEqual([]);
    expect(exists(join(v.staging, STATE_FILE))).toBe(false);

    await srv.node.NodeStageVolume(v.stage);
    await srv.node.NodePublishVolume(v.publish(target));
    const rh = await open(target, "r");
    const first = Buffer.alloc(16);
    await rh.read(first, 0, 16, 8 * MiB);
    await rh.close();
    expect(first.equals(Buffer.alloc(16))).toBe(false);
    await srv.node.NodeUnpublishVolume({ volume_id: "pvc-blk", target_path: target });
    await srv.node.NodeUnstageVolume({ volume_id: "pvc-blk", staging_target_path: v.staging });
  });

  it("allows ReadWriteMany for block (KubeVirt live migration) and publishes read-only nodes as 0440", async () => {
    const file = "storage-pool/k8s/pvc-rwx.img";
    await createImage(root, file, 16 * MiB);
    const v = volume("pvc-rwx", file, blockCap("MULTI_NODE_MULTI_WRITER"));
    await srv.node.NodeStageVolume(v.stage);
    const t1 = join(dir, "pub", "a");
    const t2 = join(dir, "pub", "b");
    await srv.node.NodePublishVolume(v.publish(t1));
    await srv.node.NodePublishVolume(v.publish(t2, true));
    expect((await stat(t2)).mode & 0o777).toBe(0o440);
    const conflict = await codeOf(srv.node.NodePublishVolume(v.publish(t2, false)));
    expect(conflict.code).toBe(Code.ALREADY_EXISTS);
    await srv.node.NodeUnpublishVolume({ volume_id: "pvc-rwx", target_path: t1 });
    await srv.node.NodeUnpublishVolume({ volume_id: "pvc-rwx", target_path: t2 });
    await srv.node.NodeUnstageVolume({ volume_id: "pvc-rwx", staging_target_path: v.staging });
  });
});

describe("access modes and re-publish rules", () => {
  it("refuses a ReadWriteMany filesystem with INVALID_ARGUMENT before touching anything", async () => {
    const file = "storage-pool/k8s/pvc-rwxfs.img";
    await createImage(root, file, 64 * MiB);
    const v = volume("pvc-rwxfs", file, mountCap("ext4", "MULTI_NODE_MULTI_WRITER"));
    const r = await codeOf(srv.node.NodeStageVolume(v.stage));
    expect(r.code).toBe(Code.INVALID_ARGUMENT);
    expect(r.message).toMatch(/MULTI_NODE_MULTI_WRITER/);
    expect(loopsUnder(root)).toEqual([]);
    expect(spawnSync("blkid", ["-p", join(root, file)]).status).toBe(2); // still unformatted
  }, 20_000);

  it.each(["mount", "block"] as const)(
    "SINGLE_NODE_SINGLE_WRITER allows one target, SINGLE_NODE_MULTI_WRITER several (%s)",
    async (kind) => {
      const file = `storage-pool/k8s/pvc-sn-${kind}.img`;
      await createImage(root, file, 64 * MiB);
      const single = volume(
        `pvc-sn-${kind}`,
        file,
        kind === "mount"
          ? mountCap("ext4", "SINGLE_NODE_SINGLE_WRITER")
          : blockCap("SINGLE_NODE_SINGLE_WRITER"),
      );
      const multi = volume(
        `pvc-sn-${kind}`,
        file,
        kind === "mount"
          ? mountCap("ext4", "SINGLE_NODE_MULTI_WRITER")
          : blockCap("SINGLE_NODE_MULTI_WRITER"),
      );
      const t1 = join(dir, "sn", kind, "t1");
      const t2 = join(dir, "sn", kind, "t2");
      await srv.node.NodeStageVolume(single.stage);
      await srv.node.NodePublishVolume(single.publish(t1));
      await srv.node.NodePublishVolume(single.publish(t1)); // same target again: fine
      const second = await codeOf(srv.node.NodePublishVolume(single.publish(t2)));
      expect(second.code).toBe(Code.FAILED_PRECONDITION);
      expect(second.message).toMatch(/SINGLE_NODE_SINGLE_WRITER/);
      expect(exists(t2)).toBe(false);
      await srv.node.NodePublishVolume(multi.publish(t2));
      expect(exists(t2)).toBe(true);
      for (const t of [t1, t2])
        await srv.node.NodeUnpublishVolume({ volume_id: `pvc-sn-${kind}`, target_path: t });
      await srv.node.NodeUnstageVolume({ volume_id: `pvc-sn-${kind}`, staging_target_path: single.staging });
      expect(loopsUnder(root)).toEqual([]);
    },
  );

  it("publishes read-only bind mounts and reports a ro/rw conflict at the same target as ALREADY_EXISTS", async () => {
    const file = "storage-pool/k8s/pvc-ro.img";
    await createImage(root, file, 64 * MiB);
    const v = volume("pvc-ro", file, mountCap("ext4"));
    const target = join(dir, "ro-target");
    await srv.node.NodeStageVolume(v.stage);
    await srv.node.NodePublishVolume(v.publish(target, true));
    await srv.node.NodePublishVolume(v.publish(target, true));
    await expect(writeFile(join(target, "x"), "y")).rejects.toMatchObject({ code: "EROFS" });
    const conflict = await codeOf(srv.node.NodePublishVolume(v.publish(target, false)));
    expect(conflict.code).toBe(Code.ALREADY_EXISTS);
    // Another volume's staging path cannot be reused, and a filesystem volume is not a block volume.
    const other = await codeOf(srv.node.NodeStageVolume({ ...v.stage, volume_capability: blockCap() }));
    expect(other.code).toBe(Code.ALREADY_EXISTS);
    const wrongFs = await codeOf(
      srv.node.NodeStageVolume({ ...v.stage, volume_capability: mountCap("xfs") }),
    );
    expect(wrongFs.code).toBe(Code.ALREADY_EXISTS);
    await srv.node.NodeUnpublishVolume({ volume_id: "pvc-ro", target_path: target });
    await srv.node.NodeUnstageVolume({ volume_id: "pvc-ro", staging_target_path: v.staging });
  });
});

describe("paths", () => {
  it("matches mounts through a symlinked kubelet directory instead of stacking mounts", async () => {
    const file = "storage-pool/k8s/pvc-link.img";
    await createImage(root, file, 64 * MiB);
    await mkdir(join(dir, "real-kubelet"));
    await symlink(join(dir, "real-kubelet"), join(dir, "kubelet"));
    const staging = join(dir, "kubelet", "staging", "pvc-link");
    const req = {
      volume_id: "pvc-link",
      staging_target_path: staging,
      publish_context: loopContext(file),
      volume_capability: mountCap("ext4"),
    };
    await repeat(3, () => srv.node.NodeStageVolume(req));
    const real = join(dir, "real-kubelet", "staging", "pvc-link");
    const stacked = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")).filter(
      (m) => m.mountPoint === real,
    );
    expect(stacked).toHaveLength(1);
    await srv.node.NodeUnstageVolume({ volume_id: "pvc-link", staging_target_path: staging });
    expect(isMounted(real)).toBe(false);
    expect(loopsUnder(root)).toEqual([]);
  });
});

describe("argument checks and discovery (csi-sanity's expectations)", () => {
  it("answers missing fields with INVALID_ARGUMENT and unknown volumes with NOT_FOUND", async () => {
    const cap = mountCap();
    const n = srv.node;
    const cases: Array<[() => Promise<unknown>, number]> = [
      [
        () =>
          n.NodeStageVolume({
            staging_target_path: "/x",
            volume_capability: cap,
            publish_context: { device: "/dev/mock" },
          }),
        Code.INVALID_ARGUMENT,
      ],
      [() => n.NodeStageVolume({ volume_id: "v", volume_capability: cap }), Code.INVALID_ARGUMENT],
      [
        () =>
          n.NodeStageVolume({
            volume_id: "v",
            staging_target_path: "/x",
            publish_context: { device: "/dev/mock" },
          }),
        Code.INVALID_ARGUMENT,
      ],
      [
        () =>
          n.NodeStageVolume({
            volume_id: "v",
            staging_target_path: "/x",
            volume_capability: cap,
            publish_context: {},
          }),
        Code.INVALID_ARGUMENT,
      ],
      [
        () =>
          n.NodeStageVolume({
            volume_id: "v",
            staging_target_path: "relative",
            volume_capability: cap,
            publish_context: loopContext("a/b.img"),
          }),
        Code.INVALID_ARGUMENT,
      ],
      [
        () =>
          n.NodeStageVolume({
            volume_id: "v",
            staging_target_path: "/x",
            volume_capability: cap,
            publish_context: loopContext("../../etc/passwd"),
          }),
        Code.INVALID_ARGUMENT,
      ],
      [() => n.NodeUnstageVolume({ staging_target_path: "/x" }), Code.INVALID_ARGUMENT],
      [() => n.NodeUnstageVolume({ volume_id: "v" }), Code.INVALID_ARGUMENT],
      [() => n.NodePublishVolume({}), Code.INVALID_ARGUMENT],
      [() => n.NodePublishVolume({ volume_id: "v" }), Code.INVALID_ARGUMENT],
      [() => n.NodePublishVolume({ volume_id: "v", target_path: "/x" }), Code.INVALID_ARGUMENT],
      [
        () => n.NodePublishVolume({ volume_id: "v", target_path: join(dir, "t"), volume_capability: cap }),
        Code.FAILED_PRECONDITION,
      ],
      [
        () =>
          n.NodePublishVolume({
            volume_id: "v",
            target_path: join(dir, "t"),
            staging_target_path: join(dir, "nostage"),
            volume_capability: cap,
          }),
        Code.FAILED_PRECONDITION,
      ],
      [() => n.NodeUnpublishVolume({}), Code.INVALID_ARGUMENT],
      [() => n.NodeUnpublishVolume({ volume_id: "v" }), Code.INVALID_ARGUMENT],
      [() => n.NodeGetVolumeStats({ volume_path: "some/path" }), Code.INVALID_ARGUMENT],
      [() => n.NodeGetVolumeStats({ volume_id: "v" }), Code.INVALID_ARGUMENT],
      [() => n.NodeGetVolumeStats({ volume_id: "v", volume_path: "some/path" }), Code.NOT_FOUND],
      [() => n.NodeGetVolumeStats({ volume_id: "v", volume_path: join(dir, "missing") }), Code.NOT_FOUND],
      [() => n.NodeGetVolumeStats({ volume_id: "v", volume_path: dir }), Code.NOT_FOUND],
      [() => n.NodeExpandVolume({ volume_path: "/x", volume_capability: cap }), Code.INVALID_ARGUMENT],
      [() => n.NodeExpandVolume({ volume_id: "v", volume_capability: cap }), Code.INVALID_ARGUMENT],
      [() => n.NodeExpandVolume({ volume_id: "v", volume_path: "some/path" }), Code.NOT_FOUND],
    ];
    for (const [call, code] of cases) expect((await codeOf(call())).code, String(call)).toBe(code);
    // Not staged / not published: OK (spec), repeatedly.
    await repeat(3, () =>
      n.NodeUnstageVolume({ volume_id: "v", staging_target_path: join(dir, "never-staged") }),
    );
    await repeat(3, () =>
      n.NodeUnpublishVolume({ volume_id: "v", target_path: join(dir, "never-published") }),
    );
  });

  it("reports capabilities and node info", async () => {
    const caps = await srv.node.NodeGetCapabilities({});
    expect(caps.capabilities.map((c) => c.rpc?.type).sort()).toEqual([
      "EXPAND_VOLUME",
      "GET_VOLUME_STATS",
      "SINGLE_NODE_MULTI_WRITER",
      "STAGE_UNSTAGE_VOLUME",
      "VOLUME_CONDITION",
    ]);
    const info = await srv.node.NodeGetInfo({});
    expect(info).toMatchObject({ node_id: "node-a", max_volumes_per_node: "0", accessible_topology: null });
  });
});
