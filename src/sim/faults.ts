// Fault and latency injection (SimFaults). Each arriving command line gets a plan: drop the connection
// before or after running it, hang until clear(), wait some latency, or fail with a given text instead of
// running. One-shot faults (`times`) are consumed when planned.
import type { SimFaults } from "./types.ts";

type Matcher = string | RegExp;

function matches(m: Matcher | undefined, command: string): boolean {
  if (m === undefined) return true;
  if (typeof m === "string") return command.includes(m);
  m.lastIndex = 0;
  return m.test(command);
}

export interface CommandPlan {
  dropBefore: boolean;
  dropAfter: boolean;
  hang: boolean;
  delayMs: number;
  /** Output instead of running the command (an error text such as `failure: ...`). */
  failMessage?: string;
}

/** Default text of `failAfter` when no message is given. */
export const DEFAULT_FAILURE = "failure: simulated failure";

export class FaultInjector implements SimFaults {
  private latencies: Array<{ ms: number; jitterMs: number; match?: Matcher }> = [];
  private hangs: Matcher[] = [];
  private drops: Array<{ match: Matcher; after: boolean; remaining: number }> = [];
  private failAfterState: { remaining: number; message: string } | undefined;
  private failNexts: Array<{ match: Matcher; message: string; remaining: number }> = [];
  private full = false;
  private waiters = new Set<() => void>();
  private readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  latency(ms: number, opts: { match?: string | RegExp; jitterMs?: number } = {}): void {
    this.latencies.push({ ms, jitterMs: opts.jitterMs ?? 0, match: opts.match });
  }

  hang(match: string | RegExp): void {
    this.hangs.push(match);
  }

  dropConnection(match: string | RegExp, opts: { after?: boolean; times?: number } = {}): void {
    this.drops.push({ match, after: opts.after ?? false, remaining: opts.times ?? 1 });
  }

  failAfter(n: number, message: string = DEFAULT_FAILURE): void {
    this.failAfterState = { remaining: n, message };
  }

  failNext(match: string | RegExp, message: string, times = 1): void {
    this.failNexts.push({ match, message, remaining: times });
  }

  diskFull(on: boolean): void {
    this.full = on;
  }

  clear(): void {
    this.latencies = [];
    this.hangs = [];
    this.drops = [];
    this.failAfterState = undefined;
    this.failNexts = [];
    this.full = false;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  isDiskFull(): boolean {
    return this.full;
  }

  /** Decides what happens to one arriving command line. */
  plan(command: string): CommandPlan {
    const plan: CommandPlan = { dropBefore: false, dropAfter: false, hang: false, delayMs: 0 };
    const drop = this.drops.find((d) => d.remaining > 0 && matches(d.match, command));
    if (drop) {
      drop.remaining--;
      if (drop.after) plan.dropAfter = true;
      else plan.dropBefore = true;
    }
    plan.hang = this.hangs.some((h) => matches(h, command));
    // The most recently added matching latency rule wins, so a test can override a global one.
    const lat = [...this.latencies].reverse().find((l) => matches(l.match, command));
    if (lat) plan.delayMs = lat.ms + Math.round(this.random() * lat.jitterMs);
    const fail = this.failNexts.find((f) => f.remaining > 0 && matches(f.match, command));
    if (fail) {
      fail.remaining--;
      plan.failMessage = fail.message;
    } else if (this.failAfterState) {
      if (this.failAfterState.remaining > 0) this.failAfterState.remaining--;
      else plan.failMessage = this.failAfterState.message;
    }
    return plan;
  }

  /** Resolves at the next clear(), or when the signal aborts (the client gave up on the channel). */
  waitForRelease(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        this.waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
