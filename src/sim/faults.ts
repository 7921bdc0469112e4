// Fault and latency injection (SimFaults). Each arriving command line gets a plan: drop the connection
// before or after running it, hang until clear(), fail with a given text instead of running, and the cost
// of its exec. Each command the line then runs costs its own latency (commandDelay, latency.ts).
// One-shot faults (`times`) are consumed when planned.
import { LatencyModel } from "./latency.ts";
import type { ProfileName } from "./latency-profiles.ts";
import { type Matcher, matches } from "./match.ts";
import type { SimFaults } from "./types.ts";

export interface CommandPlan {
  dropBefore: boolean;
  dropAfter: boolean;
  hang: boolean;
  /** Cost of the exec itself, paid once before the line runs. */
  execDelayMs: number;
  /** Output instead of running the command (an error text such as `failure: ...`). */
  failMessage?: string;
  /** Reply without an exit status. */
  noExitStatus: boolean;
  /** `/disk add` allocates its file for this long before the line runs (slow-allocation.ts). */
  allocationMs: number;
}

/** Default text of `failAfter` when no message is given. */
export const DEFAULT_FAILURE = "failure: simulated failure";

export class FaultInjector implements SimFaults {
  private readonly latencies: LatencyModel;
  private hangs: Matcher[] = [];
  private drops: Array<{ match: Matcher; after: boolean; remaining: number }> = [];
  private failAfterState: { remaining: number; message: string } | undefined;
  private failNexts: Array<{ match: Matcher; message: string; remaining: number }> = [];
  private full = false;
  private sessionLifetimeMs: number | undefined;
  private noExits: Array<{ match: Matcher; remaining: number }> = [];
  private allocationMs = 0;
  private waiters = new Set<() => void>();

  constructor(random: () => number = Math.random) {
    this.latencies = new LatencyModel(random);
  }

  latency(ms: number, opts: { match?: string | RegExp; jitterMs?: number } = {}): void {
    this.latencies.command(ms, opts);
  }

  execLatency(ms: number, opts: { jitterMs?: number } = {}): void {
    this.latencies.execLatency(ms, opts);
  }

  latencyProfile(name: ProfileName): void {
    this.latencies.useProfile(name);
  }

  hang(match: string | RegExp): void {
    this.hangs.push(match);
  }

  dropConnection(match: string | RegExp, opts: { after?: boolean; times?: number } = {}): void {
    this.drops.push({ match, after: opts.after ?? false, remaining: opts.times ?? 1 });
  }

  dropSessionsAfterLogin(ms: number): void {
    this.sessionLifetimeMs = ms;
  }

  /** Called by the SSH server at each login with a way to cut that connection. */
  onLogin(drop: () => void): void {
    if (this.sessionLifetimeMs !== undefined) setTimeout(drop, this.sessionLifetimeMs).unref();
  }

  slowAllocation(ms: number): void {
    this.allocationMs = ms;
  }

  noExitStatus(match: string | RegExp, times = 1): void {
    this.noExits.push({ match, remaining: times });
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
    this.latencies.clear();
    this.hangs = [];
    this.drops = [];
    this.failAfterState = undefined;
    this.failNexts = [];
    this.full = false;
    this.sessionLifetimeMs = undefined;
    this.noExits = [];
    this.allocationMs = 0;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  isDiskFull(): boolean {
    return this.full;
  }

  /** Cost of one command the line runs, by its canonical text (`/disk add type=file ...`). */
  commandDelay(text: string): number {
    return this.latencies.commandDelay(text);
  }

  /** Decides what happens to one arriving command line. */
  plan(command: string): CommandPlan {
    const plan: CommandPlan = {
      dropBefore: false,
      dropAfter: false,
      hang: false,
      execDelayMs: this.latencies.execDelay(),
      noExitStatus: false,
      allocationMs: /\/disk add\b.*\bfile-size=/.test(command) ? this.allocationMs : 0,
    };
    const noExit = this.noExits.find((n) => n.remaining > 0 && matches(n.match, command));
    if (noExit) {
      noExit.remaining--;
      plan.noExitStatus = true;
    }
    const drop = this.drops.find((d) => d.remaining > 0 && matches(d.match, command));
    if (drop) {
      drop.remaining--;
      if (drop.after) plan.dropAfter = true;
      else plan.dropBefore = true;
    }
    plan.hang = this.hangs.some((h) => matches(h, command));
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
