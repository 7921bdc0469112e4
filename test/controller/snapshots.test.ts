// Snapshots, restores and clones over gRPC against the RouterOS simulator over real SSH, for both
// mechanisms: file-copy (xfs pool) and btrfs-subvolume (btrfs pool). Data is checked in the simulator's
// real files; lineage must survive a controller restart; failures injected mid-snapshot must leave no file.
import { closeSync, openSync, readdirSync, readSync, statSync, writeSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotDir } from "../../src/controller/snapshots/layout.ts";
import {
  layoutFor,
  methodFor,
  type PoolFacts,
  parseSnapshotParams,
} from "../../src/controller/snapshots/method.ts";
import { isSnapshotId, snapshotIdForName } from "../../src/controller/snapshots/snapshot-id.ts";
import {
  decodeSnapshotRecord,
  encodeSnapshotRecord,
} from "../../src/controller/snapshots/snapshot-record.ts";
import { decodeRecord } from "../../src/controller/volume-record.ts";
import { imageLocation, volumeLocation } from "../../src/controller/volumes/layout.ts";
import {
  blockCap,
  type ControllerEnv,
  codeOf,
  GiB,
  mountCap,
  startControllerEnv,
} from "../helpers/controller-env.ts";

const MiB = 2 ** 20;
const SIZE = 64 * MiB;

const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-00000000000a`;
const k8sSnap = (n: number) => `snapshot-${n.toString(16).padStart(8, "0")}-0000-4000-8000-00000000000b`;

function writeAt(path: string, offset: number, data: string): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.from(data), 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

function readAt(path: string, offset: number, length: number): string {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}

/** Every file and directory on the simulated pool, relative to it (what an orphan would show up in). */
function poolEntries(env: ControllerEnv): string[] {
  const root = env.rds.sim.localPath("storage-pool");
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      out.push(relative(root, join(dir, e.name)));
      if (e.isDirectory()) walk(join(dir, e.name));
    }
  };
  walk(root);
  return out.sort();
}

for (const fs of ["xfs", "btrfs"] as const) {
  const method = fs === "xfs" ? "file-copy" : "btrfs-subvolume";
  describe(`snapshots on a ${fs} pool (${method})`, () => {
    let env: ControllerEnv;
    beforeAll(async () => {
      env = await startControllerEnv({ sim: { pools: [{ name: "storage-pool", sizeBytes: 20 * GiB, fs }] } });
    });
    afterAll(async () => {
      await env?.close();
    });

    const c = () => env.csi.controller;
    const create = async (name: string, cap = mountCap(), bytes = SIZE) =>
      (
        await c().CreateVolume({
          name,
          capacity_range: { required_bytes: String(bytes) },
          volume_capabilities: [cap],
        })
      ).volume!;
    const imageOf = async (id: string) => env.rds.sim.localPath((await env.client.getDisk(id))!.filePath);

    it("lays volumes out for the mechanism and snapshots them with it", async () => {
      const vol = await create(pvc(1));
      const disk = await env.client.getDisk(vol.volume_id!);
      expect(disk?.filePath).toBe(
        fs === "btrfs" ? `storage-pool/k8s/${pvc(1)}/volume.img` : `storage-pool/k8s/${pvc(1)}.img`,
      );
      const snap = (await c().CreateSnapshot({ name: k8sSnap(1), source_volume_id: pvc(1) })).snapshot!;
      expect(snap).toMatchObject({
        snapshot_id: k8sSnap(1),
        source_volume_id: pvc(1),
        ready_to_use: true,
        size_bytes: String(SIZE),
      });
      const record = decodeSnapshotRecord((await env.client.getDisk(k8sSnap(1)))!.comment);
      expect(record).toMatchObject({ name: k8sSnap(1), sourceVolume: pvc(1), sizeBytes: SIZE, method });
      const snapDisk = await env.client.getDisk(k8sSnap(1));
      expect(snapDisk?.nvmeExport).toBe(false); // snapshots are never exported
      expect(snapDisk?.filePath).toBe(
        fs === "btrfs"
          ? `storage-pool/k8s/snapshots/${k8sSnap(1)}/volume.img`
          : `storage-pool/k8s/snapshots/${k8sSnap(1)}.img`,
      );
      expect(
        await codeOf(
          c().ControllerPublishVolume({
            volume_id: k8sSnap(1),
            node_id: "node-a",
            volume_capability: mountCap(),
          }),
        ),
      ).toBe("NOT_FOUND");
      const sent = env.rds.sim.commandLog.map((e) => e.command).join("\n");
      if (fs === "btrfs") expect(sent).toContain(`parent="k8s/${pvc(1)}"`);
      else expect(sent).toContain(`/file copy "storage-pool/k8s/${pvc(1)}.img"`);
      await c().DeleteSnapshot({ snapshot_id: k8sSnap(1) });
      await c().DeleteVolume({ volume_id: pvc(1) });
    });

    for (const [kind, cap] of [
      ["filesystem", mountCap()],
      ["block", blockCap()],
    ] as const) {
      it(`restores a ${kind} volume's snapshot with the snapshot's data, at the same or a larger size`, async () => {
        const id = kind === "block" ? pvc(11) : pvc(10);
        await create(id, cap);
        const image = await imageOf(id);
        writeAt(image, 0, "before-snapshot");
        writeAt(image, SIZE - 9, "last-byte");
        const snap = (await c().CreateSnapshot({ name: `snap-of-${id}`, source_volume_id: id })).snapshot!;
        writeAt(image, 0, "AFTER--snapshot");

        const same = (
          await c().CreateVolume({
            name: `restored-${id}`,
            capacity_range: { required_bytes: String(SIZE) },
            volume_capabilities: [cap],
            volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
          })
        ).volume!;
        expect(same.content_source?.snapshot?.snapshot_id).toBe(snap.snapshot_id);
        expect(same.capacity_bytes).toBe(String(SIZE));
        const restored = await imageOf(same.volume_id!);
        expect(readAt(restored, 0, 15)).toBe("before-snapshot");
        expect(readAt(restored, SIZE - 9, 9)).toBe("last-byte");
        expect(readAt(image, 0, 15)).toBe("AFTER--snapshot");
        const rdisk = await env.client.getDisk(same.volume_id!);
        expect(rdisk).toMatchObject({
          nvmeExport: true,
          nqn: `nqn.2026-01.com.mikrotik.rds-csi:${same.volume_id}`,
        });
        expect(decodeRecord(rdisk!.comment)?.source).toEqual({ snapshot: snap.snapshot_id });

        const larger = (
          await c().CreateVolume({
            name: `restored-larger-${id}`,
            capacity_range: { required_bytes: String(2 * SIZE) },
            volume_capabilities: [cap],
            volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
          })
        ).volume!;
        expect(larger.capacity_bytes).toBe(String(2 * SIZE));
        const big = await imageOf(larger.volume_id!);
        expect(statSync(big).size).toBe(2 * SIZE);
        expect(readAt(big, 0, 15)).toBe("before-snapshot");
        expect(readAt(big, SIZE - 9, 9)).toBe("last-byte");

        for (const v of [same.volume_id!, larger.volume_id!, id]) await c().DeleteVolume({ volume_id: v });
        await c().DeleteSnapshot({ snapshot_id: snap.snapshot_id! });
      });
    }

    it("clones a volume: the clone has the data and both are independent afterwards", async () => {
      await create(pvc(20), blockCap());
      const src = await imageOf(pvc(20));
      writeAt(src, 4096, "golden-image");
      const clone = (
        await c().CreateVolume({
          name: pvc(21),
          capacity_range: { required_bytes: String(SIZE) },
          volume_capabilities: [blockCap()],
          volume_content_source: { volume: { volume_id: pvc(20) } },
        })
      ).volume!;
      expect(clone.content_source?.volume?.volume_id).toBe(pvc(20));
      const dst = await imageOf(pvc(21));
      expect(readAt(dst, 4096, 12)).toBe("golden-image");
      writeAt(dst, 4096, "clone-writes");
      expect(readAt(src, 4096, 12)).toBe("golden-image");
      writeAt(src, 4096, "source-write");
      expect(readAt(dst, 4096, 12)).toBe("clone-writes");
      if (fs === "btrfs")
        expect(
          env.rds.sim.commandLog.some(
            (e) =>
              e.command.includes(`parent="k8s/${pvc(20)}"`) && e.command.includes(`name="k8s/${pvc(21)}"`),
          ),
        ).toBe(true);
      // The source can go; the clone stays.
      await c().DeleteVolume({ volume_id: pvc(20) });
      expect(readAt(dst, 4096, 12)).toBe("clone-writes");
      await c().DeleteVolume({ volume_id: pvc(21) });
    });

    it("keeps snapshots of a deleted volume, still restorable; lineage survives a controller restart", async () => {
      await create(pvc(30));
      writeAt(await imageOf(pvc(30)), 0, "generation-1");
      const s1 = (await c().CreateSnapshot({ name: "gen-1", source_volume_id: pvc(30) })).snapshot!;
      writeAt(await imageOf(pvc(30)), 0, "generation-2");
      const s2 = (await c().CreateSnapshot({ name: "gen-2", source_volume_id: pvc(30) })).snapshot!;
      await create(pvc(31));
      const other = (await c().CreateSnapshot({ name: "other", source_volume_id: pvc(31) })).snapshot!;
      await c().DeleteVolume({ volume_id: pvc(30) });

      await env.restartController();
      const bySource = await c().ListSnapshots({ source_volume_id: pvc(30) });
      expect(bySource.entries.map((e) => e.snapshot?.snapshot_id).sort()).toEqual(
        [s1.snapshot_id, s2.snapshot_id].sort(),
      );
      const got = (await c().GetSnapshot({ snapshot_id: s1.snapshot_id })).snapshot!;
      expect(got).toEqual(s1); // same creation time, size and source as when it was made
      expect(Number(got.creation_time?.seconds)).toBeGreaterThan(Date.now() / 1000 - 600);
      expect((await c().ListSnapshots({ snapshot_id: other.snapshot_id })).entries).toHaveLength(1);

      const restored = (
        await c().CreateVolume({
          name: pvc(32),
          volume_capabilities: [mountCap()],
          volume_content_source: { snapshot: { snapshot_id: s1.snapshot_id } },
        })
      ).volume!;
      expect(restored.capacity_bytes).toBe(String(SIZE)); // no capacity asked: the snapshot's size
      expect(readAt(await imageOf(pvc(32)), 0, 12)).toBe("generation-1");
      for (const s of [s1, s2, other]) await c().DeleteSnapshot({ snapshot_id: s.snapshot_id! });
      for (const v of [pvc(31), pvc(32)]) await c().DeleteVolume({ volume_id: v });
      expect(poolEntries(env).filter((e) => !["k8s", "k8s/snapshots"].includes(e))).toEqual([]);
    });

    it("is idempotent; same name with another source is ALREADY_EXISTS; pages through the list", async () => {
      await create(pvc(40));
      await create(pvc(41));
      const name = `sanity-snapshot-${"x".repeat(112)}`; // 128 characters, like csi-sanity
      const first = (await c().CreateSnapshot({ name, source_volume_id: pvc(40) })).snapshot!;
      expect(first.snapshot_id).toMatch(/^snap-[0-9a-f]{24}$/);
      for (let i = 0; i < 5; i++)
        expect((await c().CreateSnapshot({ name, source_volume_id: pvc(40) })).snapshot).toEqual(first);
      expect(await codeOf(c().CreateSnapshot({ name, source_volume_id: pvc(41) }))).toBe("ALREADY_EXISTS");

      const restoreReq = {
        name: pvc(42),
        capacity_range: { required_bytes: String(SIZE) },
        volume_capabilities: [mountCap()],
        volume_content_source: { snapshot: { snapshot_id: first.snapshot_id! } },
      };
      const r1 = (await c().CreateVolume(restoreReq)).volume!;
      expect((await c().CreateVolume(restoreReq)).volume).toEqual(r1);
      expect(
        await codeOf(
          c().CreateVolume({ ...restoreReq, volume_content_source: { volume: { volume_id: pvc(41) } } }),
        ),
      ).toBe("ALREADY_EXISTS");
      expect(await codeOf(c().CreateVolume({ ...restoreReq, volume_content_source: undefined }))).toBe(
        "ALREADY_EXISTS",
      );
      expect(
        await codeOf(
          c().CreateVolume({ ...restoreReq, capacity_range: { required_bytes: String(2 * SIZE) } }),
        ),
      ).toBe("ALREADY_EXISTS");

      const more = [];
      for (const n of ["p1", "p2", "p3"])
        more.push((await c().CreateSnapshot({ name: n, source_volume_id: pvc(41) })).snapshot!.snapshot_id!);
      const all = [first.snapshot_id!, ...more].sort();
      const seen: string[] = [];
      let token = "";
      do {
        const page = await c().ListSnapshots({ max_entries: 3, starting_token: token });
        expect(page.entries.length).toBeLessThanOrEqual(3);
        seen.push(...page.entries.map((e) => e.snapshot!.snapshot_id));
        token = page.next_token;
      } while (token);
      expect(seen).toEqual(all);
      expect(await codeOf(c().ListSnapshots({ starting_token: "not-a-token" }))).toBe("ABORTED");

      for (let i = 0; i < 3; i++) await c().DeleteSnapshot({ snapshot_id: first.snapshot_id! });
      for (const s of more) await c().DeleteSnapshot({ snapshot_id: s });
      for (const v of [pvc(40), pvc(41), pvc(42)]) await c().DeleteVolume({ volume_id: v });
    });

    it("answers with the CSI error codes", async () => {
      await create(pvc(50));
      expect(await codeOf(c().CreateSnapshot({ name: "", source_volume_id: pvc(50) }))).toBe(
        "INVALID_ARGUMENT",
      );
      expect(await codeOf(c().CreateSnapshot({ name: "s", source_volume_id: "" }))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(c().CreateSnapshot({ name: "s", source_volume_id: pvc(59) }))).toBe("NOT_FOUND");
      expect(await codeOf(c().CreateSnapshot({ name: "s", source_volume_id: "../../etc" }))).toBe(
        "NOT_FOUND",
      );
      expect(
        await codeOf(
          c().CreateSnapshot({ name: "s", source_volume_id: pvc(50), parameters: { snapshotMethod: "dd" } }),
        ),
      ).toBe("INVALID_ARGUMENT");
      expect(
        await codeOf(
          c().CreateSnapshot({ name: "s", source_volume_id: pvc(50), parameters: { bogus: "1" } }),
        ),
      ).toBe("INVALID_ARGUMENT");
      expect(await codeOf(c().CreateSnapshot({ name: "x".repeat(300), source_volume_id: pvc(50) }))).toBe(
        "INVALID_ARGUMENT",
      );
      expect(await codeOf(c().GetSnapshot({ snapshot_id: "" }))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(c().GetSnapshot({ snapshot_id: k8sSnap(99) }))).toBe("NOT_FOUND");
      expect(await codeOf(c().DeleteSnapshot({ snapshot_id: "" }))).toBe("INVALID_ARGUMENT");
      expect(await codeOf(c().DeleteSnapshot({ snapshot_id: "fake-snapshot-id" }))).toBe("OK");
      expect(await codeOf(c().DeleteSnapshot({ snapshot_id: k8sSnap(99) }))).toBe("OK");
      expect((await c().ListSnapshots({ snapshot_id: "fake" })).entries).toEqual([]);
      expect((await c().ListSnapshots({ source_volume_id: pvc(59) })).entries).toEqual([]);
      const fromMissing = (source: object) =>
        codeOf(
          c().CreateVolume({
            name: pvc(51),
            volume_capabilities: [mountCap()],
            volume_content_source: source,
          }),
        );
      expect(await fromMissing({ snapshot: { snapshot_id: k8sSnap(98) } })).toBe("NOT_FOUND");
      expect(await fromMissing({ snapshot: { snapshot_id: "non-existing-snapshot-id" } })).toBe("NOT_FOUND");
      expect(await fromMissing({ volume: { volume_id: pvc(58) } })).toBe("NOT_FOUND");
      expect(await fromMissing({ snapshot: { snapshot_id: "" } })).toBe("INVALID_ARGUMENT");
      // A volume cannot be smaller than its source.
      expect(
        await codeOf(
          c().CreateVolume({
            name: pvc(52),
            capacity_range: { required_bytes: String(SIZE / 2), limit_bytes: String(SIZE / 2) },
            volume_capabilities: [mountCap()],
            volume_content_source: { volume: { volume_id: pvc(50) } },
          }),
        ),
      ).toBe("OUT_OF_RANGE");
      env.rds.sim.faults.diskFull(true);
      expect(
        await codeOf(
          c().CreateVolume({
            name: pvc(52),
            volume_capabilities: [mountCap()],
            volume_content_source: { volume: { volume_id: pvc(50) } },
          }),
        ),
      ).toBe("RESOURCE_EXHAUSTED");
      if (method === "file-copy")
        expect(await codeOf(c().CreateSnapshot({ name: "full", source_volume_id: pvc(50) }))).toBe(
          "RESOURCE_EXHAUSTED",
        );
      env.rds.sim.faults.diskFull(false);
      await c().DeleteVolume({ volume_id: pvc(50) });
      expect(poolEntries(env).filter((e) => !["k8s", "k8s/snapshots"].includes(e))).toEqual([]);
    });

    it("leaves no file behind when a snapshot fails half-way, and the retry completes it", async () => {
      await create(pvc(60));
      const before = poolEntries(env);
      const make = (copyFault: RegExp) =>
        c().CreateSnapshot({ name: `faulty-${copyFault.source}`, source_volume_id: pvc(60) });
      const take = fs === "btrfs" ? /\/disk\/btrfs\/subvolume add/ : /\/file copy/;

      // The record's add fails after the image was made: the image is removed before answering.
      env.rds.sim.faults.failNext(/\/disk add .*slot=snap-/, "failure: simulated failure");
      expect(await codeOf(make(/a/))).toBe("INTERNAL");
      expect(poolEntries(env)).toEqual(before);

      // The image is made but its reply is lost with the connection: cleanup or the retry removes it.
      env.rds.sim.faults.dropConnection(take, { after: true });
      expect(await codeOf(make(/b/))).toBe("UNAVAILABLE");
      env.rds.sim.faults.clear();
      const retried = (await make(/b/)).snapshot!;
      const [snapDisk] = (await env.client.listDisks("snap")).filter((d) => d.slot === retried.snapshot_id);
      expect(poolEntries(env).filter((e) => !before.includes(e))).toEqual(
        fs === "btrfs"
          ? [`k8s/snapshots/${retried.snapshot_id}`, `k8s/snapshots/${retried.snapshot_id}/volume.img`]
          : [`k8s/snapshots/${retried.snapshot_id}.img`],
      );
      expect(snapDisk?.filePath).toContain(retried.snapshot_id);

      // The record was added but its reply was lost: the retry finds the complete snapshot.
      env.rds.sim.faults.dropConnection(/\/disk add .*slot=snap-/, { after: true });
      expect(await codeOf(make(/c/))).toBe("UNAVAILABLE");
      env.rds.sim.faults.clear();
      const found = (await make(/c/)).snapshot!;
      expect(found.source_volume_id).toBe(pvc(60));

      // The copy itself fails: nothing is left, and the answer says why.
      env.rds.sim.faults.failNext(take, "failure: not enough space");
      expect(await codeOf(make(/d/))).toBe("RESOURCE_EXHAUSTED");

      // A delete interrupted between removing the item and the image is finished by its retry.
      env.rds.sim.faults.dropConnection(/\/file remove/, { times: 1 });
      expect(await codeOf(c().DeleteSnapshot({ snapshot_id: found.snapshot_id }))).toBe("UNAVAILABLE");
      env.rds.sim.faults.clear();
      expect(await env.client.getDisk(found.snapshot_id)).toBeUndefined();
      await c().DeleteSnapshot({ snapshot_id: found.snapshot_id });
      await c().DeleteSnapshot({ snapshot_id: retried.snapshot_id });
      expect(poolEntries(env)).toEqual(before);

      // A restore interrupted before it was exported is finished by the retry (grown and exported).
      const snap = (await make(/e/)).snapshot!;
      const restoreReq = {
        name: pvc(61),
        capacity_range: { required_bytes: String(2 * SIZE) },
        volume_capabilities: [mountCap()],
        volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
      };
      // When cleanup works, a failed grow leaves nothing; the retry starts over.
      env.rds.sim.faults.dropConnection(/\/disk set .*file-size=/);
      expect(await codeOf(c().CreateVolume(restoreReq))).toBe("UNAVAILABLE");
      env.rds.sim.faults.clear();
      expect(await env.client.getDisk(pvc(61))).toBeUndefined();
      expect(poolEntries(env).filter((e) => e.includes(pvc(61)))).toEqual([]);
      // When the cleanup fails too, the unexported disk marks the volume unfinished: the retry completes it.
      env.rds.sim.faults.failNext(/\/disk set .*file-size=/, "failure: simulated failure");
      env.rds.sim.faults.failNext(/\/disk remove/, "failure: simulated failure");
      expect(await codeOf(c().CreateVolume(restoreReq))).toBe("INTERNAL");
      env.rds.sim.faults.clear();
      expect((await env.client.getDisk(pvc(61)))?.nvmeExport).toBe(false);
      const finished = (await c().CreateVolume(restoreReq)).volume!;
      expect(finished.capacity_bytes).toBe(String(2 * SIZE));
      expect((await env.client.getDisk(pvc(61)))?.nvmeExport).toBe(true);
      await c().DeleteVolume({ volume_id: pvc(61) });
      await c().DeleteSnapshot({ snapshot_id: snap.snapshot_id });
      await c().DeleteVolume({ volume_id: pvc(60) });
      expect(poolEntries(env).filter((e) => !["k8s", "k8s/snapshots"].includes(e))).toEqual([]);
    });
  });
}

describe("choosing the mechanism from the appliance", () => {
  it("RouterOS 7.22 on xfs: no /file copy, so snapshots and clones fail with FAILED_PRECONDITION", async () => {
    const env = await startControllerEnv({
      sim: { version: "7.22.1", pools: [{ name: "storage-pool", sizeBytes: 10 * GiB, fs: "xfs" }] },
    });
    try {
      const c = env.csi.controller;
      await c.CreateVolume({
        name: pvc(70),
        capacity_range: { required_bytes: String(SIZE) },
        volume_capabilities: [mountCap()],
      });
      expect(await codeOf(c.CreateSnapshot({ name: "s", source_volume_id: pvc(70) }))).toBe(
        "FAILED_PRECONDITION",
      );
      expect(
        await codeOf(
          c.CreateVolume({
            name: pvc(71),
            volume_capabilities: [mountCap()],
            volume_content_source: { volume: { volume_id: pvc(70) } },
          }),
        ),
      ).toBe("FAILED_PRECONDITION");
      expect(
        await codeOf(
          c.CreateVolume({
            name: pvc(72),
            volume_capabilities: [mountCap()],
            parameters: { snapshotMethod: "btrfs-subvolume" },
          }),
        ),
      ).toBe("INVALID_ARGUMENT");
      expect((await env.client.listDisks("")).map((d) => d.slot)).toEqual([pvc(70)]);
    } finally {
      await env.close();
    }
  });

  it("RouterOS 7.22 on btrfs: subvolume volumes snapshot and clone; file-copy volumes cannot", async () => {
    const env = await startControllerEnv({
      sim: { version: "7.22.1", pools: [{ name: "storage-pool", sizeBytes: 10 * GiB, fs: "btrfs" }] },
    });
    try {
      const c = env.csi.controller;
      const req = { capacity_range: { required_bytes: String(SIZE) }, volume_capabilities: [mountCap()] };
      await c.CreateVolume({ name: pvc(80), ...req });
      const snap = (await c.CreateSnapshot({ name: "s", source_volume_id: pvc(80) })).snapshot!;
      await c.CreateVolume({
        name: pvc(81),
        ...req,
        volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
      });
      // A flat volume (StorageClass asked for file-copy) can only be copied, and 7.22 cannot.
      await c.CreateVolume({ name: pvc(82), ...req, parameters: { snapshotMethod: "file-copy" } });
      expect((await env.client.getDisk(pvc(82)))?.filePath).toBe(`storage-pool/k8s/${pvc(82)}.img`);
      expect(await codeOf(c.CreateSnapshot({ name: "t", source_volume_id: pvc(82) }))).toBe(
        "FAILED_PRECONDITION",
      );
      expect(
        await codeOf(
          c.CreateSnapshot({
            name: "t",
            source_volume_id: pvc(82),
            parameters: { snapshotMethod: "btrfs-subvolume" },
          }),
        ),
      ).toBe("FAILED_PRECONDITION");
      // A restore into the flat layout needs /file copy too.
      expect(
        await codeOf(
          c.CreateVolume({
            name: pvc(83),
            ...req,
            parameters: { snapshotMethod: "file-copy" },
            volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
          }),
        ),
      ).toBe("FAILED_PRECONDITION");
      expect(env.rds.sim.commandLog.some((e) => e.command.startsWith("/file copy"))).toBe(false);
    } finally {
      await env.close();
    }
  });

  it("on btrfs with 7.23+, a VolumeSnapshotClass may still ask for file-copy of a subvolume volume", async () => {
    const env = await startControllerEnv({
      sim: { pools: [{ name: "storage-pool", sizeBytes: 10 * GiB, fs: "btrfs" }] },
    });
    try {
      const c = env.csi.controller;
      await c.CreateVolume({
        name: pvc(90),
        capacity_range: { required_bytes: String(SIZE) },
        volume_capabilities: [blockCap()],
      });
      writeAt(env.rds.sim.localPath(`storage-pool/k8s/${pvc(90)}/volume.img`), 0, "copied-out");
      const snap = (
        await c.CreateSnapshot({
          name: "copy",
          source_volume_id: pvc(90),
          parameters: { snapshotMethod: "file-copy" },
        })
      ).snapshot!;
      const disk = await env.client.getDisk(snap.snapshot_id);
      expect(disk?.filePath).toBe(`storage-pool/k8s/snapshots/${snap.snapshot_id}.img`);
      expect(decodeSnapshotRecord(disk!.comment)?.method).toBe("file-copy");
      // Restored into the subvolume layout: a new empty subvolume with the image copied in.
      const v = (
        await c.CreateVolume({
          name: pvc(91),
          volume_capabilities: [blockCap()],
          volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
        })
      ).volume!;
      expect(readAt(env.rds.sim.localPath(`storage-pool/k8s/${v.volume_id}/volume.img`), 0, 10)).toBe(
        "copied-out",
      );
    } finally {
      await env.close();
    }
  });
});

describe("units", () => {
  it("derives layouts from paths and back", () => {
    const flat = volumeLocation("pool/k8s", pvc(1), "flat");
    const sub = volumeLocation("pool/k8s/deep", pvc(1), "subvolume");
    expect(flat).toEqual({ filePath: `pool/k8s/${pvc(1)}.img` });
    expect(sub).toEqual({ filePath: `pool/k8s/deep/${pvc(1)}/volume.img`, subvolume: `k8s/deep/${pvc(1)}` });
    expect(imageLocation(flat.filePath, pvc(1))).toEqual(flat);
    expect(imageLocation(sub.filePath, pvc(1))).toEqual(sub);
    // A flat file that happens to be called volume.img in a directory of another name stays flat.
    expect(imageLocation("pool/k8s/other/volume.img", pvc(1))).toEqual({
      filePath: "pool/k8s/other/volume.img",
    });
    expect(snapshotDir(flat)).toBe("pool/k8s/snapshots");
    expect(snapshotDir(sub)).toBe("pool/k8s/deep/snapshots");
  });

  it("chooses the mechanism from the parameter and the appliance", () => {
    const btrfs: PoolFacts = { mountPoint: "p", fs: "btrfs", fsLabel: "p", version: "7.24.1" };
    const old: PoolFacts = { ...btrfs, version: "7.20" };
    const xfs: PoolFacts = { mountPoint: "p", fs: "xfs", fsLabel: "p", version: "7.24.1" };
    const unlabelled: PoolFacts = { mountPoint: "p", fs: "btrfs", version: "7.24.1" };
    expect([btrfs, old, xfs, unlabelled].map((f) => layoutFor("auto", f))).toEqual([
      "subvolume",
      "subvolume",
      "flat",
      "flat",
    ]);
    expect(layoutFor("file-copy", btrfs)).toBe("flat");
    expect(() => layoutFor("btrfs-subvolume", xfs)).toThrow(/not btrfs/);
    expect(() => layoutFor("btrfs-subvolume", unlabelled)).toThrow(/no label/);
    const sub = { filePath: "p/k/v/volume.img", subvolume: "k/v" };
    const flat = { filePath: "p/k/v.img" };
    expect(methodFor("auto", sub, btrfs)).toBe("btrfs-subvolume");
    expect(methodFor("auto", flat, btrfs)).toBe("file-copy");
    expect(methodFor("file-copy", sub, btrfs)).toBe("file-copy");
    expect(methodFor("auto", sub, old)).toBe("btrfs-subvolume");
    expect(() => methodFor("auto", flat, old)).toThrow(/no \/file copy/);
    expect(() => methodFor("btrfs-subvolume", flat, btrfs)).toThrow(/own btrfs subvolume/);
    expect(parseSnapshotParams({ "csi.storage.k8s.io/volumesnapshot/name": "x" })).toEqual({
      method: "auto",
    });
  });

  it("snapshot ids and records round-trip; foreign comments are not records", () => {
    expect(snapshotIdForName(k8sSnap(1))).toBe(k8sSnap(1));
    expect(snapshotIdForName("x".repeat(128))).toMatch(/^snap-[0-9a-f]{24}$/);
    for (const bad of ["snap-1", "pvc-x", k8sSnap(1).toUpperCase(), "../snap"])
      expect(isSnapshotId(bad)).toBe(false);
    const r = {
      name: "n",
      sourceVolume: pvc(1),
      sizeBytes: 5,
      createdAt: "2026-11-21T00:00:00.000Z",
      method: "file-copy" as const,
    };
    expect(decodeSnapshotRecord(encodeSnapshotRecord(r))).toEqual(r);
    expect(encodeSnapshotRecord(r)).toMatch(/^rds-csi-snap:1:[A-Za-z0-9_-]+$/); // no quoting needed on the CLI
    expect(decodeSnapshotRecord("rds-csi:1:e30")).toBeUndefined(); // a volume record
    expect(decodeSnapshotRecord("rds-csi-snap:1:!!")).toBeUndefined();
  });
});
