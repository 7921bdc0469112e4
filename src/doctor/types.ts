// The shape of a doctor check. A check looks at one thing, says what it saw (`detail`) and, when that is
// not fine, what to do about it (`fix`). Checks never throw: the runner turns an exception or a timeout
// into a failed result, so one broken probe cannot hide the others.

/** `skip`: not checked because something it depends on already failed (or does not apply here). */
export type Status = "ok" | "warn" | "fail" | "skip";

export interface CheckResult {
  status: Status;
  /** What was observed, in one line. */
  detail: string;
  /** What to do about it (only for warn/fail). */
  fix?: string;
}

export interface Check {
  /** Stable machine-readable id, e.g. `node.kernel.nvme-tcp`, `rds.host-key`. */
  id: string;
  title: string;
  /** Overrides the runner's per-check budget (a check that allocates on the appliance needs longer). */
  timeoutMs?: number;
  run(): Promise<CheckResult>;
}

export interface CheckReport extends CheckResult {
  id: string;
  title: string;
  durationMs: number;
}

export const ok = (detail: string): CheckResult => ({ status: "ok", detail });
export const warn = (detail: string, fix?: string): CheckResult => ({
  status: "warn",
  detail,
  ...(fix ? { fix } : {}),
});
export const fail = (detail: string, fix?: string): CheckResult => ({
  status: "fail",
  detail,
  ...(fix ? { fix } : {}),
});
export const skip = (detail: string): CheckResult => ({ status: "skip", detail });

const RANK: Record<Status, number> = { skip: 0, ok: 1, warn: 2, fail: 3 };

/** The worse of two statuses (fail > warn > ok > skip). */
export function worst(a: Status, b: Status): Status {
  return RANK[a] >= RANK[b] ? a : b;
}
