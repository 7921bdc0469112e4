// Several parts in one exec (src/rds/batch.ts): each part gets exactly its own output, and an error is
// attributed to the part it stopped in, with that part's commands in the RdsError. Over real SSH against
// the simulator, and on raw outputs for the shapes a real appliance may produce (errors on stderr).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchLine, type Part, splitBatch } from "../../src/rds/batch.ts";
import { RosCommand, val } from "../../src/rds/command.ts";
import { type RdsClient, RdsError } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { simClient } from "../helpers/sim-client.ts";

const GiB = 2 ** 30;
let rds: EmbeddedRds;
let client: RdsClient;

beforeAll(async () => {
  rds = await startEmbeddedRds({});
  client = simClient(rds);
  await client.ensureDirectory("storage-pool/batch");
});

afterAll(async () => {
  await client?.close();
  await rds?.close();
});

const add = (slot: string) => ({
  slot,
  filePath: `storage-pool/batch/${slot}.img`,
  fileSizeBytes: GiB,
  comment: "rds-csi:2:batch",
  nvmeExport: true,
  nvmePort: 4420,
});

async function thrown(p: Promise<unknown>): Promise<RdsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RdsError) return err;
    throw err;
  }
  throw new Error("expected an RdsError");
}

/** Exec lines the simulator received while `fn` ran. */
async function execsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const before = rds.sim.commandLog.length;
  await fn();
  return rds.sim.commandLog.slice(before).map((e) => e.command);
}

describe("batched execs over SSH", () => {
  it("lookup reads a disk, a file and a pool in one round trip: two prints side by side while channels are free", async () => {
    await client.addFileDisk(add("pvc-batch-1"));
    let found: Awaited<ReturnType<RdsClient["lookup"]>> = {};
    const lines = await execsOf(async () => {
      found = await client.lookup({
        disk: "pvc-batch-1",
        file: "storage-pool/batch/pvc-batch-1.img",
        pool: "storage-pool",
      });
    });
    // The one-exec form, both prints in one line with a part marker, is the next describe's last-but-one test.
    expect(lines.sort()).toEqual([
      '/disk print detail where slot="pvc-batch-1" or mount-point="storage-pool"; :put "__RDS_OK__"',
      '/file print detail where name="storage-pool/batch/pvc-batch-1.img"; :put "__RDS_OK__"',
    ]);
    expect(found.disk).toMatchObject({ slot: "pvc-batch-1", sizeBytes: GiB });
    expect(found.file).toMatchObject({ name: "storage-pool/batch/pvc-batch-1.img", sizeBytes: GiB });
    expect(found.pool).toMatchObject({ mountPoint: "storage-pool" });
    // Absent items are absent, not mixed up with their neighbours' output.
    const none = await client.lookup({ disk: "pvc-batch-none", file: "storage-pool/batch/none.img" });
    expect(none).toEqual({});
  });

  it("add with its read-back is one exec; an add that fails is the add's error, and the read-back never ran", async () => {
    const lines = await execsOf(() => client.addFileDisk(add("pvc-batch-2")));
    expect(lines).toHaveLength(1);
    // No part marker: the adds print nothing, so what comes before the sentinel is the print's.
    expect(lines[0]).toMatch(
      /^\/disk add [^;]*; \/disk print detail where slot="pvc-batch-2"; :put "__RDS_OK__"$/,
    );
    const log = rds.sim.commandLog;
    const before = log.length;
    const err = await thrown(client.addFileDisk(add("pvc-batch-2")));
    expect(err.kind).toBe("exists");
    expect(err.command).toMatch(/^\/disk add /);
    expect(err.command).not.toContain("print");
    const entry = log.slice(before);
    expect(entry).toHaveLength(1);
    expect(entry[0]!.commands.some((c) => c.startsWith("/disk print"))).toBe(false);
  });

  it("removeAll removes a disk and its file in one exec; missing items are not an error", async () => {
    const lines = await execsOf(() =>
      client.removeAll([{ disk: "pvc-batch-2" }, { file: "storage-pool/batch/pvc-batch-2.img" }]),
    );
    expect(lines).toHaveLength(1);
    expect(await client.getDisk("pvc-batch-2")).toBeUndefined();
    expect(await client.getFile("storage-pool/batch/pvc-batch-2.img")).toBeUndefined();
    await client.removeAll([{ disk: "pvc-batch-2" }, { file: "storage-pool/batch/pvc-batch-2.img" }]);
  });
});

describe("concurrent lookups share execs", () => {
  it("ten lookups made together share one exec, each with its own answer", async () => {
    for (const n of [3, 4, 5]) await client.addFileDisk(add(`pvc-batch-${n}`));
    const slots = Array.from({ length: 10 }, (_, i) => `pvc-batch-${i}`);
    let answers: Awaited<ReturnType<RdsClient["lookup"]>>[] = [];
    const lines = await execsOf(async () => {
      answers = await Promise.all(
        slots.map((s) =>
          client.lookup({ disk: s, file: `storage-pool/batch/${s}.img`, pool: "storage-pool" }),
        ),
      );
    });
    // One disk print and one file print for all ten, side by side in two execs (the channels are free).
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.startsWith("/disk print"))).toMatch(
      /^\/disk print detail where slot="pvc-batch-\d" or slot="pvc-batch-\d" or .*; :put "__RDS_OK__"$/,
    );
    expect(lines.find((l) => l.startsWith("/file print"))).toMatch(
      /^\/file print detail where name="[^"]+" or name="[^"]+" or .*; :put "__RDS_OK__"$/,
    );
    for (const [i, a] of answers.entries()) {
      const made = [1, 3, 4, 5].includes(i); // pvc-batch-1 from the first test
      expect(a.disk?.slot).toBe(made ? slots[i] : undefined);
      expect(a.file?.name).toBe(made ? `storage-pool/batch/${slots[i]}.img` : undefined);
      expect(a.pool?.mountPoint).toBe("storage-pool");
    }
  });

  it("with fewer than two channels free, the merged lookup is one exec of both prints", async () => {
    rds.sim.faults.hang(/^:put "__RDS_OK__"$/);
    const held = [client.ping(), client.ping(), client.ping()]; // three of the four channels
    await new Promise((r) => setTimeout(r, 50));
    const slots = ["pvc-batch-1", "pvc-batch-3", "pvc-batch-none"];
    let answers: Awaited<ReturnType<RdsClient["lookup"]>>[] = [];
    const lines = await execsOf(async () => {
      answers = await Promise.all(
        slots.map((s) => client.lookup({ disk: s, file: `storage-pool/batch/${s}.img` })),
      );
    });
    rds.sim.faults.clear();
    await Promise.allSettled(held);
    const lookups = lines.filter((l) => !l.startsWith(":put"));
    expect(lookups).toHaveLength(1);
    expect(lookups[0]).toMatch(
      /^\/disk print detail where .*; :put "__RDS_PART__1"; \/file print detail where /,
    );
    expect(answers.map((a) => a.disk?.slot)).toEqual(["pvc-batch-1", "pvc-batch-3", undefined]);
  });

  it("a bad value fails only its own lookup, before anything is sent", async () => {
    const [bad, good] = await Promise.allSettled([
      client.lookup({ disk: "Bad Slot" }),
      client.lookup({ disk: "pvc-batch-3" }),
    ]);
    expect(bad.status).toBe("rejected");
    expect(good.status === "fulfilled" && good.value.disk?.slot).toBe("pvc-batch-3");
  });
});

describe("concurrent adds share execs", () => {
  it("merges adds that wait for a channel; each disk is read back and verified", async () => {
    const slots = Array.from({ length: 8 }, (_, i) => `pvc-merge-${i}`);
    let disks: Awaited<ReturnType<RdsClient["addFileDisk"]>>[] = [];
    const lines = await execsOf(async () => {
      disks = await Promise.all(slots.map((s) => client.addFileDisk(add(s))));
    });
    expect(disks.map((d) => d.slot)).toEqual(slots);
    const adds = lines.filter((l) => l.startsWith("/disk add"));
    expect(adds.length).toBeLessThan(slots.length);
    expect(adds.some((l) => (l.match(/\/disk add /g) ?? []).length > 1)).toBe(true);
    for (const s of slots) expect(await client.getDisk(s)).toMatchObject({ slot: s, sizeBytes: GiB });
  });

  it("a burst whose first lookup went alone: its add waits for the lookups in flight, and the burst's adds share every channel", async () => {
    // What a burst of CreateVolume calls does: each looks its slot up, then adds it. The first call's
    // lookup goes out alone and the other nineteen merged a moment later; every exec takes 30 ms.
    rds.sim.faults.execLatency(30);
    const slots = Array.from({ length: 20 }, (_, i) => `pvc-burst-${i}`);
    const create = async (slot: string) => {
      await client.lookup({ disk: slot, file: `storage-pool/batch/${slot}.img`, pool: "storage-pool" });
      return client.addFileDisk(add(slot));
    };
    const before = rds.sim.commandLog.length;
    const first = create(slots[0]!);
    await new Promise((r) => setImmediate(r)); // the first lookup is sent
    const made = await Promise.all([first, ...slots.slice(1).map(create)]);
    rds.sim.faults.clear();
    expect(made.map((d) => d.slot)).toEqual(slots);
    const lines = rds.sim.commandLog.slice(before).map((e) => e.command);
    expect(lines.filter((l) => l.includes(" print detail where ")).length).toBe(4 + 4); // lookups + read-backs
    const addsPerExec = lines
      .filter((l) => l.startsWith("/disk add "))
      .map((l) => (l.match(/\/disk add /g) ?? []).length);
    // Not [1, 7, 6, 6]: the first add alone on a channel, the other nineteen short of one.
    expect(addsPerExec).toEqual([5, 5, 5, 5]);
    await Promise.all(
      slots.map((s) => client.removeAll([{ disk: s }, { file: `storage-pool/batch/${s}.img` }])),
    );
  });

  it("a failing add in a merged exec fails only its own call: adds before it stand, adds after it are sent again", async () => {
    await client.addFileDisk({ ...add("pvc-taken"), comment: "rds-csi:2:someone-else" });
    // Four go at once (one per channel); the next three wait for a channel and go out together, the
    // taken slot in the middle.
    const fillers = ["pvc-fill-0", "pvc-fill-1", "pvc-fill-2", "pvc-fill-3"].map((s) =>
      client.addFileDisk(add(s)),
    );
    await new Promise((r) => setImmediate(r));
    const before = rds.sim.commandLog.length;
    const waiting = ["pvc-before", "pvc-taken", "pvc-after"].map((s) => client.addFileDisk(add(s)));
    const settled = await Promise.allSettled(waiting);
    await Promise.all(fillers);
    const [a, taken, b] = [settled[0]!, settled[1]!, settled[2]!];
    const lines = rds.sim.commandLog.slice(before).map((e) => e.command);
    expect(
      lines.some((l) =>
        /slot=pvc-before .*; \/disk add .*slot=pvc-taken .*; \/disk add .*slot=pvc-after /.test(l),
      ),
    ).toBe(true);
    expect(a.status).toBe("fulfilled");
    expect(b.status).toBe("fulfilled");
    expect(taken.status).toBe("rejected");
    const err = (taken as PromiseRejectedResult).reason as RdsError;
    expect(err.kind).toBe("exists");
    expect(err.command).toMatch(/^\/disk add .*slot=pvc-taken /);
    expect(err.command).not.toContain("pvc-after");
    expect((await client.getDisk("pvc-taken"))?.comment).toBe("rds-csi:2:someone-else");
    expect((await client.getDisk("pvc-after"))?.comment).toBe("rds-csi:2:batch");
  });
});

describe("concurrent removals share execs", () => {
  const made = (s: string) => client.addFileDisk(add(s));
  const removal = (s: string) => [{ disk: s }, { file: `storage-pool/batch/${s}.img` }];

  it("removal lists made together go in one exec, every disk before its file, and all are gone", async () => {
    const slots = Array.from({ length: 6 }, (_, i) => `pvc-rm-${i}`);
    await Promise.all(slots.map(made));
    const lines = await execsOf(() => Promise.all(slots.map((s) => client.removeAll(removal(s)))));
    expect(lines.length).toBeLessThan(slots.length);
    const merged = lines.find((l) => l.includes(" or slot="))!;
    expect(merged).toMatch(
      /^\/disk set \[find where slot="pvc-rm-\d"( or slot="pvc-rm-\d")+\] nvme-tcp-export=no; \/disk remove \[find where slot="pvc-rm-\d"( or slot="pvc-rm-\d")+\]; \/file remove \[find where name="storage-pool\/batch\/pvc-rm-\d\.img"( or name="[^"]+")+\]; :put "__RDS_OK__"$/,
    );
    for (const s of slots) {
      expect(await client.getDisk(s)).toBeUndefined();
      expect(await client.getFile(`storage-pool/batch/${s}.img`)).toBeUndefined();
    }
  });

  it("a merged removal line that fails is sent again list by list, and each list gets its own answer", async () => {
    const slots = ["pvc-rm-a", "pvc-rm-b", "pvc-rm-c"];
    await Promise.all(slots.map(made));
    // The merged line fails (and so does the lone line of pvc-rm-b): the others are removed on their own.
    rds.sim.faults.failNext(/ or slot=/, "failure: simulated", 1);
    rds.sim.faults.failNext(/^\/disk set \[find where slot="pvc-rm-b"\]/, "failure: simulated", 1);
    const before = rds.sim.commandLog.length;
    const settled = await Promise.allSettled(slots.map((s) => client.removeAll(removal(s))));
    const lines = rds.sim.commandLog.slice(before).map((e) => e.command);
    expect(lines.filter((l) => l.includes(" or slot="))).toHaveLength(1);
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(((settled[1] as PromiseRejectedResult).reason as RdsError).command).toMatch(/slot="pvc-rm-b"/);
    expect(await client.getDisk("pvc-rm-a")).toBeUndefined();
    expect(await client.getDisk("pvc-rm-c")).toBeUndefined();
    expect(await client.getDisk("pvc-rm-b")).toBeDefined();
    await client.removeAll(removal("pvc-rm-b"));
    expect(await client.getDisk("pvc-rm-b")).toBeUndefined();
  });

  it("lists of another shape go in their own exec", async () => {
    await made("pvc-rm-d");
    const lines = await execsOf(() =>
      Promise.all([
        client.removeAll(removal("pvc-rm-d")),
        client.removeAll([{ file: "storage-pool/batch/pvc-rm-none.img" }]),
      ]),
    );
    expect(lines).toHaveLength(2);
    expect(lines).toContain(
      '/file remove [find where name="storage-pool/batch/pvc-rm-none.img"]; :put "__RDS_OK__"',
    );
    expect(await client.getDisk("pvc-rm-d")).toBeUndefined();
  });

  it("a bad value fails only its own call, before anything is sent", async () => {
    await expect(client.removeAll([{ disk: "Bad Slot" }])).rejects.toThrow();
    await expect(client.removeAll([{ file: "../etc/passwd" }])).rejects.toThrow();
  });
});

describe("splitBatch on raw outputs", () => {
  const parts: Part[] = [
    {
      commands: [
        new RosCommand("/disk", "set")
          .findWhere("slot", val.quoted("a"))
          .arg("nvme-tcp-export", val.bool(true)),
      ],
      mutation: true,
    },
    { commands: [new RosCommand("/disk", "print").option("detail")], mutation: false },
  ];

  it("renders markers between the parts and the sentinel at the end", () => {
    expect(batchLine(parts)).toBe(
      '/disk set [find where slot="a"] nvme-tcp-export=yes; :put "__RDS_PART__1"; /disk print detail; :put "__RDS_OK__"',
    );
  });

  it("gives each part its own output", () => {
    expect(
      splitBatch({ stdout: "\r\n__RDS_PART__1\r\n 0 slot=a\r\n__RDS_OK__\r\n", stderr: "", code: 0 }, parts),
    ).toEqual(["", " 0 slot=a"]);
  });

  it("attributes an error to the part it stopped in, on stdout or on stderr", () => {
    const first = (() => {
      try {
        splitBatch({ stdout: "failure: no such item\r\n", stderr: "", code: 0 }, parts);
      } catch (e) {
        return e as RdsError;
      }
    })();
    expect(first?.kind).toBe("not-found");
    expect(first?.command).toMatch(/^\/disk set /);
    const second = (() => {
      try {
        splitBatch({ stdout: "__RDS_PART__1\r\n", stderr: "not enough permissions (9)\r\n", code: 1 }, parts);
      } catch (e) {
        return e as RdsError;
      }
    })();
    expect(second?.kind).toBe("permission");
    expect(second?.command).toBe("/disk print detail");
  });

  it("refuses output before a mutation's marker, and a missing marker even with the sentinel", () => {
    expect(() =>
      splitBatch(
        { stdout: "warning: something\r\n__RDS_PART__1\r\n__RDS_OK__\r\n", stderr: "", code: 0 },
        parts,
      ),
    ).toThrow(/something/);
    expect(() => splitBatch({ stdout: "__RDS_OK__\r\n", stderr: "", code: 0 }, parts)).toThrow(/marker/);
  });
});
