// An appliance that drops every SSH session 100 ms after login must not be redialled several times a
// second for ever (RouterOS brute-force rules blacklist exactly that): the back-off only resets after a
// session stayed up, so 10 s of such drops cost a handful of connections.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReconnectBackoff } from "../../src/rds/reconnect-backoff.ts";
import type { RdsClient } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { simClient } from "../helpers/sim-client.ts";

describe("reconnect back-off", () => {
  const opts = { baseMs: 250, capMs: 30_000, stableMs: 30_000, unstableFloorMs: 1000 };
  it("grows for failed dials and short sessions, with jitter in the upper half, up to the cap", () => {
    const low = new ReconnectBackoff(opts, () => 0);
    const high = new ReconnectBackoff(opts, () => 1);
    expect([1, 2, 3, 4].map(() => low.afterFailedAttempt())).toEqual([125, 250, 500, 1000]);
    expect([1, 2, 3, 4].map(() => high.afterFailedAttempt())).toEqual([250, 500, 1000, 2000]);
    for (let i = 0; i < 20; i++) high.afterFailedAttempt();
    expect(high.afterFailedAttempt()).toBe(30_000);
  });

  it("a successful login alone does not reset it; a session that stayed up does", () => {
    const b = new ReconnectBackoff(opts, () => 1);
    b.afterFailedAttempt();
    b.afterFailedAttempt();
    expect(b.afterSessionEnded(100)).toBe(1000); // up 100 ms: one more failure
    expect(b.afterSessionEnded(29_999)).toBe(2000);
    expect(b.afterSessionEnded(30_000)).toBe(250); // stayed up: back to the start
    expect(b.failures).toBe(0);
    expect(new ReconnectBackoff(opts, () => 0).afterSessionEnded(10)).toBe(1000); // the floor
  });
});

describe("an appliance that drops sessions 100 ms after login", () => {
  let rds: EmbeddedRds;
  let client: RdsClient;
  beforeAll(async () => {
    rds = await startEmbeddedRds({});
    client = simClient(rds);
  });
  afterAll(async () => {
    await client?.close();
    await rds?.close();
  });

  it("gets at most a handful of connections in 10 s", async () => {
    rds.sim.faults.dropSessionsAfterLogin(100);
    const before = rds.sim.stats.totalConnections;
    await client.ping(); // the first session; it is cut 100 ms later, and every one after it
    await new Promise((r) => setTimeout(r, 10_000));
    const dials = rds.sim.stats.totalConnections - before;
    expect(dials).toBeGreaterThanOrEqual(3); // it does keep trying
    expect(dials).toBeLessThanOrEqual(6);
    rds.sim.faults.clear();
  }, 20_000);
});
