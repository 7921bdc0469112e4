// roundTrips (src/sim/round-trips.ts): execs whose spans overlap are one round trip, others are not; and the
// simulator records a span for every exec it answers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { roundTrips } from "../../src/sim/round-trips.ts";
import type { SimCommandLogEntry } from "../../src/sim/types.ts";
import { simClient } from "../helpers/sim-client.ts";

const entry = (command: string, start: number, end?: number): SimCommandLogEntry => ({
  at: 0,
  user: "u",
  command,
  output: "",
  commands: [],
  latencyMs: { exec: 0, commands: [] },
  span: end === undefined ? { start } : { start, end },
});

describe("roundTrips", () => {
  it("groups overlapping execs, in the order they arrived, and starts a round after the last one ended", () => {
    const rounds = roundTrips([
      entry("c", 10, 20),
      entry("a", 0, 5),
      entry("b", 1, 6),
      entry("d", 19, 25), // overlaps c
      entry("e", 25, 30), // starts as d ends: the next round
    ]);
    expect(rounds.map((r) => r.map((e) => e.command))).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("an exec never answered overlaps everything after it", () => {
    const rounds = roundTrips([entry("a", 0), entry("b", 100, 101)]);
    expect(rounds.map((r) => r.length)).toEqual([2]);
  });
});

describe("the simulator's spans", () => {
  let rds: EmbeddedRds;
  beforeAll(async () => {
    rds = await startEmbeddedRds({});
  });
  afterAll(() => rds?.close());

  it("execs sent together overlap, execs sent one after another do not", async () => {
    const client = simClient(rds);
    try {
      rds.sim.faults.execLatency(20);
      const before = rds.sim.commandLog.length;
      await Promise.all([client.ping(), client.ping()]);
      await client.ping();
      rds.sim.faults.clear();
      const log = rds.sim.commandLog.slice(before);
      for (const e of log) expect(e.span.end! - e.span.start).toBeGreaterThanOrEqual(19);
      expect(roundTrips(log).map((r) => r.length)).toEqual([2, 1]);
    } finally {
      await client.close();
    }
  });
});
