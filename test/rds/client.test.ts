// createRdsClient against the RouterOS simulator over real SSH on loopback.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/observability/logger.ts";
import { createRdsClient } from "../../src/rds/client.ts";
import type { SshConnectionOptions } from "../../src/rds/ssh-connection.ts";
import { type AddFileDiskSpec, type RdsClient, RdsError } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";

const GiB = 2 ** 30;
const DIR = "storage-pool/k8s";
const NQN = "nqn.2026-01.com.mikrotik.rds-csi";
const HOST_A = "nqn.2014-08.org.nvmexpress:uuid:0c4f1f76-1111-4e0d-9a3c-000000000001";
const HOST_B = "nqn.2014-08.org.nvmexpress:uuid:0c4f1f76-2222-4e0d-9a3c-000000000002";
/** Like the controller's volume record: a prefix and a few hundred characters of base64url. */
const COMMENT = `rds-csi:1:${Buffer.from(JSON.stringify({ n: "pvc-x", b: 1073741825, p: { fsType: "xfs" }, a: [], t: "2026-01-01T00:00:00Z", pad: "x".repeat(200) })).toString("base64url")}`;

let rds: EmbeddedRds;
/** The console width the simulator wraps `print detail` at (optional in the Simulator contract). */
const setWidth = (width: number) => {
  if (!rds.sim.setWrapWidth) throw new Error("this simulator cannot change its wrap width");
  rds.sim.setWrapWidth(width);
};
const clients: RdsClient[] = [];

function client(opts: Partial<SshConnectionOptions> = {}, target = rds): RdsClient {
  const c = createRdsClient(
    {
      host: target.sim.host,
      port: target.sim.port,
      user: target.user,
      privateKey: target.privateKey,
      hostKey: target.sim.hostKeyFingerprint,
      ...opts,
    },
    silentLogger,
  );
  clients.push(c);
  return c;
}

const spec = (slot: string, over: Partial<AddFileDiskSpec> = {}): AddFileDiskSpec => ({
  slot,
  filePath: `${DIR}/${slot}.img`,
  fileSizeBytes: GiB + 1,
  comment: COMMENT,
  nvmeExport: true,
  nvmePort: 4420,
  nqn: `${NQN}:${slot}`,
  ...over,
});

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RdsError) return e.kind;
    throw e;
  }
  return "resolved";
}

beforeAll(async () => {
  rds = await startEmbeddedRds();
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await rds.close();
});
beforeEach(() => {
  rds.sim.faults.clear();
  setWidth(80);
});

describe("basics", () => {
  it("pings, reads system info, logs in with +ct", async () => {
    const c = client();
    await c.ping();
    expect(c.connected).toBe(true);
    expect(await c.systemInfo()).toEqual({
      version: "7.24.1",
      boardName: "RDS2216",
      packages: ["routeros", "rose-storage"],
    });
    expect(rds.sim.commandLog.at(-1)?.user).toMatch(/^rds-csi(\+ct)?$/);
  });

  it("reads the pool by mount point; an unknown mount point is undefined", async () => {
    const c = client();
    const pool = await c.getPool("storage-pool");
    expect(pool).toMatchObject({
      slot: "storage-pool",
      mountPoint: "storage-pool",
      fs: "xfs",
      sizeBytes: 100 * GiB,
    });
    expect(pool?.freeBytes).toBeLessThanOrEqual(100 * GiB);
    expect(await c.getPool("no-such-pool")).toBeUndefined();
  });
});

describe("volume lifecycle", () => {
  it("ensureDirectory is idempotent and creates nested directories", async () => {
    const c = client();
    await c.ensureDirectory(DIR);
    await c.ensureDirectory(DIR);
    await c.ensureDirectory(`${DIR}/nested/deeper`);
    expect(await c.getFile(`${DIR}/nested/deeper`)).toEqual({
      name: `${DIR}/nested/deeper`,
      type: "directory",
    });
    await c.removeFile(`${DIR}/nested/deeper`);
    await c.removeFile(`${DIR}/nested`);
  });

  it("add, get, list, set, remove a file disk; the file stays until removed", async () => {
    const c = client();
    await c.ensureDirectory(DIR);
    const freeBefore = (await c.getPool("storage-pool"))?.freeBytes ?? 0;
    await c.addFileDisk(spec("pvc-life", { allowedHosts: [HOST_A] }));
    const add = rds.sim.commandLog.find((e) => e.command.startsWith("/disk add"))?.command ?? "";
    expect(add).toContain(" file-size=1073741825 ");
    expect(add).toContain(" slot=pvc-life ");

    expect(await c.getDisk("pvc-life")).toEqual({
      id: "",
      slot: "pvc-life",
      filePath: `${DIR}/pvc-life.img`,
      sizeBytes: GiB + 1,
      nvmeExport: true,
      nvmePort: 4420,
      nqn: `${NQN}:pvc-life`,
      allowedHosts: [HOST_A],
      comment: COMMENT,
      disabled: false,
    });
    expect((await c.getPool("storage-pool"))?.freeBytes).toBe(freeBefore - (GiB + 1)); // thick

    await c.addFileDisk(spec("other-1"));
    expect((await c.listDisks("pvc-")).map((d) => d.slot)).toEqual(["pvc-life"]);
    expect((await c.listDisks("")).map((d) => d.slot).sort()).toEqual(["other-1", "pvc-life"]);

    await c.setDisk("pvc-life", {
      fileSizeBytes: 2 * GiB,
      comment: "rds-csi:1:e30",
      allowedHosts: [HOST_A, HOST_B],
    });
    expect(await c.getDisk("pvc-life")).toMatchObject({
      sizeBytes: 2 * GiB,
      comment: "rds-csi:1:e30",
      allowedHosts: [HOST_A, HOST_B],
    });
    await c.setDisk("pvc-life", { nvmeExport: false });
    expect(await c.getDisk("pvc-life")).toMatchObject({ nvmeExport: false });

    await c.removeDisk("pvc-life");
    await c.removeDisk("pvc-life"); // missing is fine
    expect(await c.getDisk("pvc-life")).toBeUndefined();
    expect(await c.getFile(`${DIR}/pvc-life.img`)).toEqual({
      name: `${DIR}/pvc-life.img`,
      type: ".img file",
      sizeBytes: 2 * GiB,
    });
    expect((await c.listFiles(`${DIR}/pvc-`)).map((f) => f.name)).toEqual([`${DIR}/pvc-life.img`]);
    await c.removeFile(`${DIR}/pvc-life.img`);
    await c.removeFile(`${DIR}/pvc-life.img`);
    expect(await c.getFile(`${DIR}/pvc-life.img`)).toBeUndefined();

    await c.removeDisk("other-1");
    await c.removeFile(`${DIR}/other-1.img`);
    expect((await c.getPool("storage-pool"))?.freeBytes).toBe(freeBefore);
  });

  it("round-trips disks at any wrap width of the console", async () => {
    const c = client();
    await c.ensureDirectory(DIR);
    const long = `pvc-${"0123456789abcdef".repeat(3)}`; // 52 characters: long paths and NQNs split mid-token
    await c.addFileDisk(spec(long, { allowedHosts: [HOST_A, HOST_B] }));
    const expected = await c.getDisk(long);
    for (const width of [0, 40, 57, 80, 133]) {
      setWidth(width);
      expect(await c.getDisk(long)).toEqual(expected);
      expect(await c.listDisks("pvc-")).toEqual([expected]);
    }
    setWidth(80);
    await c.removeDisk(long);
    await c.removeFile(`${DIR}/${long}.img`);
  });

  it("lists files by a prefix containing dots (the regex is escaped)", async () => {
    const c = client();
    await c.ensureDirectory(`${DIR}/dots`);
    await c.ensureDirectory(`${DIR}/dots/a.b`);
    await c.ensureDirectory(`${DIR}/dots/axb`);
    expect((await c.listFiles(`${DIR}/dots/a.`)).map((f) => f.name)).toEqual([`${DIR}/dots/a.b`]);
    await c.removeFile(`${DIR}/dots/a.b`);
    await c.removeFile(`${DIR}/dots/axb`);
    await c.removeFile(`${DIR}/dots`);
  });
});

describe("errors", () => {
  it("a missing slot reads as undefined; setting it is not-found", async () => {
    const c = client();
    expect(await c.getDisk("pvc-missing")).toBeUndefined();
    expect(await c.getFile(`${DIR}/pvc-missing.img`)).toBeUndefined();
    expect(await kindOf(c.setDisk("pvc-missing", { comment: "x" }))).toBe("not-found");
  });

  it("a taken slot is exists; a full pool is no-space (also with errors on stderr and exit 1)", async () => {
    const c = client();
    await c.ensureDirectory(DIR);
    await c.addFileDisk(spec("pvc-dup"));
    expect(await kindOf(c.addFileDisk(spec("pvc-dup", { filePath: `${DIR}/pvc-dup-2.img` })))).toBe("exists");
    expect(await kindOf(c.addFileDisk(spec("pvc-huge", { fileSizeBytes: 1000 * GiB })))).toBe("no-space");
    rds.sim.faults.diskFull(true);
    expect(await kindOf(c.addFileDisk(spec("pvc-full")))).toBe("no-space");
    rds.sim.faults.diskFull(false);
    await c.removeDisk("pvc-dup");
    await c.removeFile(`${DIR}/pvc-dup.img`);

    const strict = await startEmbeddedRds({ errorStream: "stderr", errorExitCode: 1 });
    try {
      const s = client({}, strict);
      await s.ensureDirectory(DIR);
      strict.sim.faults.diskFull(true);
      expect(await kindOf(s.addFileDisk(spec("pvc-full")))).toBe("no-space");
      expect(await kindOf(s.setDisk("pvc-missing", { comment: "x" }))).toBe("not-found");
    } finally {
      await strict.close();
    }
  });

  it("a failure injected on a read is an error, never an empty result", async () => {
    const c = client();
    rds.sim.faults.failNext("/disk print", "failure: something broke");
    expect(await kindOf(c.getDisk("pvc-anything"))).toBe("failure");
    rds.sim.faults.failNext("/disk print", "not enough permissions (9)");
    expect(await kindOf(c.listDisks("pvc-"))).toBe("permission");
  });

  it("a hung command times out; a dropped connection is unavailable and the next call reconnects", async () => {
    const c = client({ commandTimeoutMs: 300, reconnectBaseMs: 20 });
    rds.sim.faults.hang("/disk print");
    expect(await kindOf(c.getDisk("pvc-x"))).toBe("timeout");
    rds.sim.faults.clear();
    rds.sim.faults.dropConnection("/file print", { times: 1 });
    expect(await kindOf(c.getFile(`${DIR}/x.img`))).toBe("unavailable");
    expect(await c.getFile(`${DIR}/x.img`)).toBeUndefined();
  });

  it("caps concurrent channels on the appliance", async () => {
    const sim = await startEmbeddedRds();
    try {
      const c = client({ maxChannels: 2 }, sim);
      sim.sim.faults.latency(30);
      await Promise.all(Array.from({ length: 12 }, (_, i) => c.getDisk(`pvc-${i}`)));
      expect(sim.sim.stats.maxConcurrentChannels).toBeLessThanOrEqual(2);
      expect(sim.sim.stats.totalConnections).toBe(1);
    } finally {
      await sim.close();
    }
  });
});

describe("nothing unvalidated reaches the appliance", () => {
  const evil = [
    'x"; /system reboot; :put "',
    "a;b",
    "a[b]",
    "$x",
    "a\\b",
    "a\nb",
    "a\u0000b",
    "A".repeat(10_000),
    "../../etc",
    "a//b",
    "",
    "é",
  ];

  it("every method refuses injection attempts before sending anything", async () => {
    const c = client();
    await c.ping();
    const sent = rds.sim.commandLog.length;
    const attempts: Array<[string, () => Promise<unknown>]> = [];
    for (const bad of evil) {
      attempts.push(
        ["getDisk", () => c.getDisk(bad)],
        ["setDisk slot", () => c.setDisk(bad, { comment: "ok" })],
        ["setDisk hosts", () => c.setDisk("pvc-1", { allowedHosts: [bad] })],
        ["removeDisk", () => c.removeDisk(bad)],
        ["getFile", () => c.getFile(bad)],
        ["listFiles", () => c.listFiles(`${bad}/`)],
        ["removeFile", () => c.removeFile(bad)],
        ["ensureDirectory", () => c.ensureDirectory(bad)],
        ["getPool", () => c.getPool(bad)],
        ["add path", () => c.addFileDisk(spec("pvc-1", { filePath: bad }))],
        ["add slot", () => c.addFileDisk(spec(bad))],
        ["add nqn", () => c.addFileDisk(spec("pvc-1", { nqn: bad }))],
      );
      if (bad !== "") attempts.push(["listDisks", () => c.listDisks(bad)]);
    }
    // `../../etc` and `a//b` are fine as comment text (it is only ever quoted), so comments get their own list.
    const evilComments = [
      ...evil.filter((e) => !["../../etc", "a//b", ""].includes(e)),
      "a  b",
      " lead",
      "trail ",
    ];
    for (const bad of evilComments) {
      attempts.push(
        ["setDisk comment", () => c.setDisk("pvc-1", { comment: bad })],
        ["add comment", () => c.addFileDisk(spec("pvc-1", { comment: bad }))],
      );
    }
    attempts.push(
      ["size 1.5", () => c.addFileDisk(spec("pvc-1", { fileSizeBytes: 1.5 }))],
      ["size -1", () => c.addFileDisk(spec("pvc-1", { fileSizeBytes: -1 }))],
      ["size 2^60", () => c.addFileDisk(spec("pvc-1", { fileSizeBytes: 2 ** 60 }))],
      ["port", () => c.addFileDisk(spec("pvc-1", { nvmePort: 70000 }))],
      ["size NaN", () => c.setDisk("pvc-1", { fileSizeBytes: Number.NaN })],
    );
    for (const [what, attempt] of attempts)
      expect([what, await kindOf(attempt())]).toEqual([what, "invalid"]);
    expect(rds.sim.commandLog.slice(sent)).toEqual([]);
  });
});
