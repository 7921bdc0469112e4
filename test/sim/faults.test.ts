// Fault and latency injection through a real SSH client: each SimFaults kind, and the command log the
// driver's tests use to prove what reached the appliance.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { FaultInjector } from "../../src/sim/faults.ts";
import type { Simulator } from "../../src/sim/types.ts";
import { connect, type SshSession, startTestSim, tempDir } from "./helpers.ts";

let sim: Simulator;
let dir: ReturnType<typeof tempDir>;

beforeAll(async () => {
  dir = tempDir();
  sim = await startTestSim({ dataDir: dir.dir });
});

afterAll(async () => {
  await sim.close();
  dir.remove();
});

afterEach(() => sim.faults.clear());

/** Resolves with the reason a session's connection ended. */
const connectionEnd = (s: SshSession): Promise<void> =>
  new Promise((resolve) => s.client.once("close", () => resolve()));

async function withSession<T>(fn: (s: SshSession) => Promise<T>): Promise<T> {
  const s = await connect(sim);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

const count = (slot: string): Promise<string> =>
  withSession(async (s) => (await s.exec(`:put [:len [/disk find where slot="${slot}"]]`)).stdout);

describe("planning (pure)", () => {
  it("latency: most recent matching rule per command, jitter within bounds", () => {
    const f = new FaultInjector(() => 0.5);
    f.latency(100, { jitterMs: 40 });
    f.latency(5, { match: /^\/disk add/ });
    expect(f.commandDelay("/disk print")).toBe(120);
    expect(f.commandDelay("/disk add type=file")).toBe(5);
    expect(f.plan("/disk print").execDelayMs).toBe(0);
  });

  it("failAfter counts commands; failNext is consumed; drops are consumed per `times`", () => {
    const f = new FaultInjector();
    f.failAfter(1, "failure: boom");
    expect(f.plan("a").failMessage).toBeUndefined();
    expect(f.plan("b").failMessage).toBe("failure: boom");
    expect(f.plan("c").failMessage).toBe("failure: boom");
    f.clear();
    f.failNext("x", "failure: once", 2);
    f.dropConnection("y", { after: true });
    expect([f.plan("x").failMessage, f.plan("x").failMessage, f.plan("x").failMessage]).toEqual([
      "failure: once",
      "failure: once",
      undefined,
    ]);
    expect([f.plan("y").dropAfter, f.plan("y").dropAfter]).toEqual([true, false]);
  });
});

describe("through SSH", () => {
  it("latency delays matching commands (at least the configured time)", async () => {
    sim.faults.latency(120, { match: ":put" });
    await withSession(async (s) => {
      const t0 = performance.now();
      expect((await s.exec(':put "slow"')).stdout).toBe("slow\r\n");
      expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
    });
  });

  it("hang: matching commands answer only after clear(), others keep working", async () => {
    sim.faults.hang("/disk print");
    await withSession(async (s) => {
      let settled = false;
      const hung = s.exec("/disk print count-only").then((r) => {
        settled = true;
        return r;
      });
      await vi.waitFor(() => expect(sim.commandLog.at(-1)?.command).toBe("/disk print count-only"));
      expect((await s.exec(':put "other"')).stdout).toBe("other\r\n");
      expect(settled).toBe(false);
      sim.faults.clear();
      expect(await hung).toEqual({ stdout: "1\r\n", stderr: "", code: 0 });
    });
  });

  it("hang: a channel the client closes never runs its command", async () => {
    sim.faults.hang("hang-me");
    await withSession(async (s) => {
      await new Promise<void>((resolve, reject) =>
        s.client.exec(
          "/disk add type=file slot=hang-me file-path=storage-pool/hang-me.img file-size=1M",
          (err, ch) => {
            if (err) return reject(err);
            ch.resume();
            ch.on("close", () => resolve());
            // Give up on the channel once the simulator has received the command.
            vi.waitFor(() => expect(sim.commandLog.at(-1)?.command).toContain("hang-me")).then(
              () => ch.close(),
              reject,
            );
          },
        ),
      );
    });
    sim.faults.clear();
    expect(await count("hang-me")).toBe("0\r\n");
  });

  it("dropConnection before: the connection dies and the command does not run", async () => {
    sim.faults.dropConnection("drop-before");
    const s = await connect(sim);
    const ended = connectionEnd(s);
    // Depending on timing ssh2 reports the lost exec as an error or as a channel without exit status.
    const r = await s
      .exec("/disk add type=file slot=drop-before file-path=storage-pool/drop-before.img file-size=1M")
      .then(
        (res) => res.code,
        (err: Error) => err.message,
      );
    await ended;
    expect(r).not.toBe(0);
    expect(await count("drop-before")).toBe("0\r\n");
  });

  it("dropConnection after: the command runs, but the reply never comes", async () => {
    sim.faults.dropConnection("drop-after", { after: true });
    const s = await connect(sim);
    const ended = connectionEnd(s);
    const r = await s.exec(
      "/disk add type=file slot=drop-after file-path=storage-pool/drop-after.img file-size=1M",
    );
    await ended;
    expect(r).toEqual({ stdout: "", stderr: "", code: undefined });
    expect(await count("drop-after")).toBe("1\r\n");
    // Only once by default.
    expect(
      await withSession(
        async (s2) => (await s2.exec('/disk remove drop-after; :put "drop-after gone"')).stdout,
      ),
    ).toBe("drop-after gone\r\n");
  });

  it("failAfter: after n commands every command fails with the message", async () => {
    sim.faults.failAfter(2, "failure: execution error");
    await withSession(async (s) => {
      expect((await s.exec(":put 1")).stdout).toBe("1\r\n");
      expect((await s.exec(":put 2")).stdout).toBe("2\r\n");
      expect(await s.exec(":put 3")).toEqual({ stdout: "failure: execution error\r\n", stderr: "", code: 0 });
      expect((await s.exec(":put 4")).stdout).toBe("failure: execution error\r\n");
      sim.faults.clear();
      expect((await s.exec(":put 5")).stdout).toBe("5\r\n");
    });
  });

  it("failNext: the next matching command fails once, without running", async () => {
    sim.faults.failNext(/^\/disk add/, "failure: not enough space");
    await withSession(async (s) => {
      const add = "/disk add type=file slot=fn1 file-path=storage-pool/fn1.img file-size=1M";
      expect((await s.exec(':put "unrelated"')).stdout).toBe("unrelated\r\n");
      expect((await s.exec(add)).stdout).toBe("failure: not enough space\r\n");
      expect((await s.exec(':put [:len [/disk find slot="fn1"]]')).stdout).toBe("0\r\n");
      expect((await s.exec(add)).stdout).toBe("");
      expect((await s.exec('/disk remove fn1; /file remove storage-pool/fn1.img; :put "ok"')).stdout).toBe(
        "ok\r\n",
      );
    });
  });

  it("diskFull: pools report no free space and adds with file-size fail", async () => {
    await withSession(async (s) => {
      const free = (await s.exec(":put [/disk get storage-pool free]")).stdout;
      expect(Number(free)).toBeGreaterThan(0);
      sim.faults.diskFull(true);
      expect((await s.exec(":put [/disk get storage-pool free]")).stdout).toBe("0\r\n");
      expect(
        (await s.exec("/disk add type=file slot=full file-path=storage-pool/full.img file-size=1M")).stdout,
      ).toBe("failure: not enough space\r\n");
      sim.faults.diskFull(false);
      expect((await s.exec(":put [/disk get storage-pool free]")).stdout).toBe(free);
    });
  });

  it("logs every command line with user and output, including failed and injected ones", async () => {
    sim.faults.failNext("log-me-2", "failure: injected");
    await withSession(async (s) => {
      await s.exec(':put "log-me-1"');
      await s.exec(':put "log-me-2"');
      await s.exec("/disk log-me-3");
    });
    const entries = sim.commandLog.filter((e) => e.command.includes("log-me"));
    expect(entries.map((e) => [e.user, e.command, e.output])).toEqual([
      ["admin", ':put "log-me-1"', "log-me-1\r\n"],
      ["admin", ':put "log-me-2"', "failure: injected\r\n"],
      ["admin", "/disk log-me-3", "bad command name log-me-3 (line 1 column 7)\r\n"],
    ]);
    for (const e of entries) expect(typeof e.at).toBe("number");
  });
});
