// Latency presets for `rds-csi sim --profile` (docs/simulator.md, "Cost model"). Each rule matches the
// canonical text of one command (`/disk add type=file ...`, `/disk find slot=x`, `:put "x"`); the most
// recent matching rule wins, so the list goes from general to specific. A cost is `ms` plus up to
// `jitterMs` at random, so its mean is ms + jitterMs / 2.
import type { Matcher } from "./match.ts";

export interface LatencySpec {
  ms: number;
  jitterMs: number;
}

export interface LatencyRule extends LatencySpec {
  match?: Matcher;
}

export interface LatencyProfile {
  /** Cost of one SSH exec: channel open, exec request, the CLI starting, channel close. */
  exec: LatencySpec;
  /** Cost of each command the line runs, by the first matching rule from the end. */
  commands: readonly LatencyRule[];
}

export const PROFILE_NAMES = ["fast", "rds-hardware"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/**
 * The only measurements of a real appliance (3whiskeywhiskey/rds-csi, test/e2e/HARDWARE_VALIDATION.md,
 * RDS at 10.42.241.3, one persistent SSH connection, one exec per command) are a 1 GiB CreateVolume of
 * 428 ms, timed around `/disk add ... nvme-tcp-export=yes` + `/disk print detail where slot=...` (two execs),
 * and a DeleteVolume of 560 ms: `/disk print detail where slot=...`, `/disk remove [find slot=...]`,
 * `/file remove [find name="..."]` (three execs). Both fit, with the mean costs below:
 *   create 428 ≈ 2 execs (2 × 60) + print (15) + add (290)                 = 425
 *   delete 560 = 3 execs (3 × 60) + print (15) + disk remove (185) + file remove (180)
 * The split between exec and print comes from the prior project's documented (not measured) 50–100 ms for
 * a `/disk print` round trip: 75 ms, most of it the exec (session, CLI start-up), a little the lookup and
 * output. Everything else is assumed and marked so in docs/simulator.md.
 */
const RDS_HARDWARE: LatencyProfile = {
  exec: { ms: 55, jitterMs: 10 },
  commands: [
    { ms: 12, jitterMs: 6 }, // any other command: a read with output (`print`), mean 15
    { match: /^:/, ms: 1, jitterMs: 0 }, // scripting (`:put`, `:local`, `:do`): in-process, assumed
    { match: /^\/[a-z0-9-]+(?: [a-z0-9-]+)* (?:find|get)(?: |$)/, ms: 2, jitterMs: 0 }, // in-memory lookup, assumed
    { match: /^\/file add /, ms: 20, jitterMs: 10 }, // a directory or small file, assumed
    { match: /^\/disk set /, ms: 140, jitterMs: 20 }, // grow a thick file / change the export, assumed
    { match: /^\/disk btrfs subvolume (?:add|remove)/, ms: 140, jitterMs: 20 }, // assumed
    { match: /^\/file copy /, ms: 270, jitterMs: 60 }, // like an add: allocation, assumed
    { match: /^\/disk add /, ms: 270, jitterMs: 40 }, // measured (mean 290)
    { match: /^\/disk remove /, ms: 170, jitterMs: 30 }, // measured as a sum with /file remove (mean 185)
    { match: /^\/file remove /, ms: 165, jitterMs: 30 }, // (mean 180)
  ],
};

export const LATENCY_PROFILES: Readonly<Record<ProfileName, LatencyProfile>> = {
  /** The default: no added latency, for tests. */
  fast: { exec: { ms: 0, jitterMs: 0 }, commands: [] },
  "rds-hardware": RDS_HARDWARE,
};
