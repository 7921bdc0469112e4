// Output of `rds-csi doctor`: one line per check for people, one JSON document for machines.
import type { CheckReport, Status } from "./types.ts";

const LABEL: Record<Status, string> = { ok: "ok  ", warn: "warn", fail: "FAIL", skip: "skip" };

export function formatText(reports: readonly CheckReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${LABEL[r.status]}  ${r.id.padEnd(32)} ${r.detail}`);
    if (r.fix && (r.status === "fail" || r.status === "warn"))
      lines.push(`      ${"".padEnd(32)} fix: ${r.fix}`);
  }
  const count = (s: Status) => reports.filter((r) => r.status === s).length;
  lines.push(
    "",
    `${count("ok")} ok, ${count("warn")} warnings, ${count("fail")} failed, ${count("skip")} skipped`,
  );
  return `${lines.join("\n")}\n`;
}

export interface JsonReport {
  ok: boolean;
  summary: Record<Status, number>;
  checks: CheckReport[];
}

export function toJson(reports: readonly CheckReport[]): JsonReport {
  const summary: Record<Status, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of reports) summary[r.status]++;
  return { ok: summary.fail === 0, summary, checks: [...reports] };
}
