// The cost model (docs/simulator.md, "Cost model"): each command a line runs costs its own latency, each
// exec a fixed one. Asserted through the command log's latency accounting, so a loaded machine cannot make
// it flaky; the one wall-clock check is a lower bound (sleeping can only take longer).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LatencyModel, parseCommandLatency } from "../../src/sim/latency.ts";
import { LATENCY_PROFILES } from "../../src/sim/latency-profiles.ts";
import type { SimCommandLogEntry, Simulator } from "../../src/sim/types.ts";
import { connect, type SshSession, startTestSim, tempDir } from "./helpers.ts";

let sim: Simulator;
let dir: ReturnType<typeof tempDir>;
let s: SshSession;

beforeAll(async () => {
  dir = tempDir();
  sim = await startTestSim({ dataDir: dir.dir });
  s = await connect(sim);
});

afterAll(async () => {
  s.close();
  await sim.close();
  dir.remove();
});

afterEach(() => sim.faults.clear());

/** Runs one line and returns its command log entry. */
async function run(line: string): Promise<{ stdout: string; entry: SimCommandLogEntry }> {
  const { stdout } = await s.exec(line);
  const entry = sim.commandLog.findLast((e) => e.command === line);
  if (!entry) throw new Error(`not logged: ${line}`);
  return { stdout, entry };
}

describe("per command and per exec", () => {
  it("a line of three commands costs three per-command latencies plus one per-exec latency", async () => {
    sim.faults.latency(10);
    sim.faults.execLatency(3);
    const t0 = performance.now();
    const { stdout, entry } = await run(":put a; :put b; :put c");
    const elapsed = performance.now() - t0;
    expect(stdout).toBe("a\r\nb\r\nc\r\n");
    expect(entry.commands).toEqual([":put a", ":put b", ":put c"]);
    expect(entry.latencyMs).toEqual({ exec: 3, commands: [10, 10, 10] });
    expect(elapsed).toBeGreaterThanOrEqual(33 - 1); // timers may fire up to 1 ms early
    // The same three commands in three execs cost three exec latencies.
    const single = await run(":put a");
    expect(single.entry.latencyMs).toEqual({ exec: 3, commands: [10] });
  });

  it("rules match the canonical text, however the command was written; the most recent wins", async () => {
    sim.faults.latency(2);
    sim.faults.latency(40, { match: /^\/disk add / });
    const add = "disk/add type=file slot=lat-1 file-path=storage-pool/lat-1.img file-size=1M";
    const { entry } = await run(add);
    expect(entry.commands).toEqual([
      "/disk add type=file slot=lat-1 file-path=storage-pool/lat-1.img file-size=1M",
    ]);
    expect(entry.latencyMs.commands).toEqual([40]);
    const print = await run("/disk/print count-only where slot=lat-1");
    expect(print.entry.commands).toEqual(["/disk print count-only where slot=lat-1"]);
    expect(print.entry.latencyMs.commands).toEqual([2]);
    const nested = await run("/disk/btrfs/subvolume/print; /ip ssh; /system/resource/get version");
    expect(nested.entry.commands).toEqual(["/disk btrfs subvolume print", "/system resource get version"]);
  });

  it("nested commands run and are charged: [find ...], :do bodies; a handler only when it runs", async () => {
    sim.faults.latency(1);
    const { entry } = await run(
      '/disk remove [find slot=lat-1]; :do { /file remove "storage-pool/lat-1.img" } on-error={ :put failed }',
    );
    expect(entry.output).toBe("");
    expect(entry.commands).toEqual([
      "/disk remove [find slot=lat-1]",
      "/disk find slot=lat-1",
      ':do { /file remove "storage-pool/lat-1.img" } on-error={ :put failed }',
      '/file remove "storage-pool/lat-1.img"',
    ]);
    expect(entry.latencyMs.commands).toEqual([1, 1, 1, 1]);
  });

  it("a line that does not parse runs nothing and costs only its exec; a runtime error stops the charges", async () => {
    sim.faults.latency(7);
    sim.faults.execLatency(5);
    const bad = await run(":put a; /disk frobnicate");
    expect(bad.entry.commands).toEqual([]);
    expect(bad.entry.latencyMs).toEqual({ exec: 5, commands: [] });
    const stopped = await run(":put a; /disk remove no-such-disk; :put never");
    expect(stopped.stdout).toBe("a\r\nno such item\r\n");
    expect(stopped.entry.commands).toEqual([":put a", "/disk remove no-such-disk"]);
    expect(stopped.entry.latencyMs.commands).toEqual([7, 7]);
  });

  it("latency rules and exec latency are cleared; the profile stays", () => {
    const m = new LatencyModel(() => 0);
    m.useProfile("rds-hardware");
    m.command(1);
    m.execLatency(1);
    expect([m.execDelay(), m.commandDelay("/disk add type=file")]).toEqual([1, 1]);
    m.clear();
    expect([m.execDelay(), m.commandDelay("/disk add type=file")]).toEqual([55, 270]);
  });

  it("jitter stays within [ms, ms + jitter]", () => {
    let r = 0;
    const m = new LatencyModel(() => r);
    m.command(10, { jitterMs: 4 });
    m.execLatency(3, { jitterMs: 2 });
    expect([m.commandDelay("x"), m.execDelay()]).toEqual([10, 3]);
    r = 0.999;
    expect([m.commandDelay("x"), m.execDelay()]).toEqual([14, 5]);
  });
});

describe("rds-hardware profile", () => {
  // The prior driver's measured operations (latency-profiles.ts): one exec per command.
  const mean = (texts: string[]) => {
    const m = new LatencyModel(() => 0.5);
    m.useProfile("rds-hardware");
    return texts.reduce((sum, t) => sum + m.execDelay() + m.commandDelay(t), 0);
  };
  const slot = "pvc-42f0d924-eb9f-4a5f-a323-112802392ace";

  it("reproduces the measured 428 ms create and 560 ms delete (means, within 5 ms)", () => {
    const create = mean([
      `/disk add type=file file-path=/storage-pool/metal-csi/${slot}.img file-size=1G slot=${slot} nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:${slot}`,
      `/disk print detail where slot=${slot}`,
    ]);
    const del = mean([
      `/disk print detail where slot=${slot}`,
      `/disk remove [find slot=${slot}]`,
      `/file remove [find name="storage-pool/metal-csi/${slot}.img"]`,
    ]);
    expect(Math.abs(create - 428)).toBeLessThanOrEqual(5);
    expect(Math.abs(del - 560)).toBeLessThanOrEqual(5);
  });

  it("charges finds and scripting little, and the default profile nothing", () => {
    const m = new LatencyModel(() => 0);
    m.useProfile("rds-hardware");
    expect(m.commandDelay(`/disk find slot=${slot}`)).toBe(2);
    expect(m.commandDelay("/disk btrfs subvolume get [find] name")).toBe(2);
    expect(m.commandDelay("/disk btrfs subvolume add fs=p name=k8s/snap parent=k8s/v")).toBe(140);
    expect(m.commandDelay('/disk print detail where comment="a get b"')).toBe(12);
    expect(m.commandDelay(':put "x"')).toBe(1);
    expect(m.commandDelay("/system resource print")).toBe(12);
    expect(LATENCY_PROFILES.fast).toEqual({ exec: { ms: 0, jitterMs: 0 }, commands: [] });
  });
});

describe("--command-latency", () => {
  it("parses REGEX=MS[,JITTER], splitting at the last =", () => {
    const r = parseCommandLatency("^/disk add .*slot=x=250,20");
    expect([r.match.source, r.ms, r.jitterMs]).toEqual(["^\\/disk add .*slot=x", 250, 20]);
    expect(parseCommandLatency("^/disk print=5").jitterMs).toBe(0);
    for (const bad of ["=5", "/disk add", "x=", "x=1,", "(=3"])
      expect(() => parseCommandLatency(bad)).toThrow(/--command-latency/);
  });
});
