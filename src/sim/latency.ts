// The simulator's cost model (docs/simulator.md, "Cost model"): every command a line runs costs its own
// latency (rules matched against the command's canonical text, most recent first), and every SSH exec
// costs a fixed latency once. On an appliance the work of each command dominates and an exec adds a smaller,
// fixed cost; charging per line instead would make batching commands into one exec look free.
import {
  LATENCY_PROFILES,
  type LatencyProfile,
  type LatencyRule,
  type LatencySpec,
  type ProfileName,
} from "./latency-profiles.ts";
import { type Matcher, matches } from "./match.ts";

const NONE: LatencySpec = { ms: 0, jitterMs: 0 };

export class LatencyModel {
  private profile: LatencyProfile = LATENCY_PROFILES.fast;
  private rules: LatencyRule[] = [];
  private exec: LatencySpec | undefined;
  private readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  /** The base the rules added later refine; clear() returns to it. */
  useProfile(name: ProfileName): void {
    this.profile = LATENCY_PROFILES[name];
  }

  /** Each matching command costs ms (plus up to jitterMs); the most recent matching rule wins. */
  command(ms: number, opts: { match?: Matcher; jitterMs?: number } = {}): void {
    this.rules.push({ ms, jitterMs: opts.jitterMs ?? 0, match: opts.match });
  }

  /** Each exec costs ms (plus up to jitterMs), whatever it runs; replaces the profile's exec cost. */
  execLatency(ms: number, opts: { jitterMs?: number } = {}): void {
    this.exec = { ms, jitterMs: opts.jitterMs ?? 0 };
  }

  /** Drops the rules added with command() and execLatency(); the profile stays. */
  clear(): void {
    this.rules = [];
    this.exec = undefined;
  }

  execDelay(): number {
    return this.draw(this.exec ?? this.profile.exec);
  }

  /** Cost of one command, by its canonical text (`/disk add type=file ...`). */
  commandDelay(text: string): number {
    const rule =
      this.rules.findLast((r) => matches(r.match, text)) ??
      this.profile.commands.findLast((r) => matches(r.match, text));
    return this.draw(rule ?? NONE);
  }

  private draw(spec: LatencySpec): number {
    return spec.ms + (spec.jitterMs > 0 ? Math.round(this.random() * spec.jitterMs) : 0);
  }
}

/** `--command-latency REGEX=MS[,JITTER]` of `rds-csi sim` (split at the last `=`: the regex may hold one). */
export function parseCommandLatency(text: string): { match: RegExp; ms: number; jitterMs: number } {
  const eq = text.lastIndexOf("=");
  const m = /^(\d+)(?:,(\d+))?$/.exec(text.slice(eq + 1));
  if (eq <= 0 || !m) throw new Error(`--command-latency ${text}: expected REGEX=MS[,JITTER]`);
  let match: RegExp;
  try {
    match = new RegExp(text.slice(0, eq));
  } catch (err) {
    throw new Error(`--command-latency ${text}: ${(err as Error).message}`);
  }
  return { match, ms: Number(m[1]), jitterMs: Number(m[2] ?? 0) };
}
