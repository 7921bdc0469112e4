// Coalescer (src/rds/coalescer.ts): a lone request goes in the same turn of the event loop; requests
// arriving while the limit is in flight wait and go together; requests of one turn are spread over the
// free slots when asked; a failed batch fails exactly the requests in it.
import { describe, expect, it } from "vitest";
import { Coalescer } from "../../src/rds/coalescer.ts";

const turn = () => new Promise((r) => setImmediate(r));

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe("Coalescer", () => {
  it("sends a lone request at once, merges what arrives while the limit is in flight, answers each in order", async () => {
    const batches: number[][] = [];
    const gates: Array<ReturnType<typeof deferred<void>>> = [];
    const c = new Coalescer<number, number>(
      async (reqs) => {
        batches.push(reqs);
        const gate = deferred<void>();
        gates.push(gate);
        await gate.promise;
        return reqs.map((r) => r * 10);
      },
      { maxInFlight: 1, maxBatch: 3 },
    );
    const first = c.request(1);
    await turn();
    expect(batches).toEqual([[1]]); // no waiting for a batch to fill when nothing runs
    const rest = [2, 3, 4, 5].map((n) => c.request(n));
    expect(c.queued).toBe(4);
    gates[0]!.resolve();
    expect(await first).toBe(10);
    await new Promise((r) => setTimeout(r, 0));
    expect(batches[1]).toEqual([2, 3, 4]); // up to maxBatch together
    gates[1]!.resolve();
    await new Promise((r) => setTimeout(r, 0));
    expect(batches[2]).toEqual([5]);
    gates[2]!.resolve();
    expect(await Promise.all(rest)).toEqual([20, 30, 40, 50]);
  });

  it("spreads the requests of one turn over the free slots, or sends them as one batch", async () => {
    const sizes = (spread: boolean) => {
      const seen: number[] = [];
      const c = new Coalescer<number, number>(
        async (reqs) => {
          seen.push(reqs.length);
          return reqs;
        },
        { maxInFlight: 4, maxBatch: 16, spread },
      );
      return { seen, all: Promise.all(Array.from({ length: 18 }, (_, i) => c.request(i))) };
    };
    const spread = sizes(true);
    expect(await spread.all).toEqual(Array.from({ length: 18 }, (_, i) => i));
    expect(spread.seen).toEqual([5, 5, 4, 4]);
    const one = sizes(false);
    await one.all;
    expect(one.seen).toEqual([16, 2]);
  });

  it("a failed batch rejects its own requests and the next batch still runs", async () => {
    let calls = 0;
    const gate = deferred<void>();
    const c = new Coalescer<number, number>(
      async (reqs) => {
        calls++;
        if (calls === 1) {
          await gate.promise;
          throw new Error("connection lost");
        }
        return reqs;
      },
      { maxInFlight: 1, maxBatch: 10 },
    );
    const a = c.request(1);
    await turn();
    const b = c.request(2); // waits: the first batch is in flight
    gate.resolve();
    await expect(a).rejects.toThrow("connection lost");
    expect(await b).toBe(2);
  });

  it("settled() waits for the batches in flight, and a caller's next request does not wait for its own", async () => {
    const gate = deferred<void>();
    const c = new Coalescer<number, number>(
      async (reqs) => {
        await gate.promise;
        return reqs;
      },
      { maxInFlight: 2, maxBatch: 10 },
    );
    expect(c.settled()).toBeUndefined(); // nothing in flight: nothing to wait for
    let settledNext: Promise<void> | undefined | "unset" = "unset";
    const a = c.request(1).then((v) => {
      settledNext = c.settled(); // what the caller asks on its answer
      return v;
    });
    await turn();
    const waiting = c.settled();
    expect(waiting).toBeInstanceOf(Promise);
    let done = false;
    void waiting!.then(() => {
      done = true;
    });
    await turn();
    expect(done).toBe(false);
    gate.resolve();
    expect(await a).toBe(1);
    await waiting;
    expect(done).toBe(true);
    expect(settledNext).toBeUndefined();
  });

  it("waitFor holds the first request until what it returns settles, and what arrives meanwhile goes with it", async () => {
    const lookups = deferred<void>();
    const seen: number[][] = [];
    const c = new Coalescer<number, number>(
      async (reqs) => {
        seen.push(reqs);
        return reqs;
      },
      { maxInFlight: 4, maxBatch: 16, spread: true, waitFor: () => lookups.promise },
    );
    const first = c.request(0);
    await turn();
    await turn();
    expect(seen).toEqual([]); // held: a lookup is in flight
    const rest = Array.from({ length: 7 }, (_, i) => c.request(i + 1));
    lookups.resolve();
    expect(await Promise.all([first, ...rest])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(seen).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
  });

  it("the wait is bounded: a lookup that hangs does not hold the requests up past waitForMaxMs", async () => {
    const seen: number[] = [];
    const c = new Coalescer<number, number>(
      async (reqs) => {
        seen.push(...reqs);
        return reqs;
      },
      { maxInFlight: 1, maxBatch: 4, waitFor: () => new Promise<void>(() => {}), waitForMaxMs: 20 },
    );
    const t0 = performance.now();
    expect(await c.request(7)).toBe(7);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    expect(seen).toEqual([7]);
  });
});
