// Runs checks one after the other (several of them share a connection or a probe, and the output reads
// top to bottom like a story), each under its own time budget.
import type { Check, CheckReport, CheckResult } from "./types.ts";

export const DEFAULT_CHECK_TIMEOUT_MS = 30_000;

export async function runCheck(
  check: Check,
  defaultTimeoutMs = DEFAULT_CHECK_TIMEOUT_MS,
): Promise<CheckReport> {
  const timeoutMs = check.timeoutMs ?? defaultTimeoutMs;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let result: CheckResult;
  try {
    result = await Promise.race([
      check.run(),
      new Promise<CheckResult>((resolve) => {
        timer = setTimeout(
          () => resolve({ status: "fail", detail: `the check did not finish within ${timeoutMs} ms` }),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    result = {
      status: "fail",
      detail: `the check itself failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  } finally {
    clearTimeout(timer);
  }
  return { id: check.id, title: check.title, ...result, durationMs: Math.round(performance.now() - started) };
}

export async function runChecks(checks: readonly Check[], timeoutMs?: number): Promise<CheckReport[]> {
  const out: CheckReport[] = [];
  for (const c of checks) out.push(await runCheck(c, timeoutMs));
  return out;
}

/** Exit status of `rds-csi doctor`: 1 when any check failed, 0 otherwise (warnings do not fail). */
export function exitStatus(reports: readonly CheckReport[]): number {
  return reports.some((r) => r.status === "fail") ? 1 : 0;
}
