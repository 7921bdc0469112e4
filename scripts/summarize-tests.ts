// Prints one closing line over every test that ran (vitest JSON report + JUnit files) and every check of the
// run: `rds-csi: N passed, N failed, N skipped`. Each argument is one section of scripts/check.sh,
// `name=exit status:report,report,...` (no reports after the colon for a check without tests). A section
// that failed without a failing test in its reports (deploy validation, a changed tracked file, a suite
// that died before writing its report) counts as one failure and is named, so the line never says
// "0 failed" of a run that failed.
import { existsSync, readFileSync } from "node:fs";

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface VitestReport {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults?: Array<{ name?: string; status?: string; assertionResults?: Array<{ status?: string }> }>;
}

function vitestCounts(r: VitestReport): Counts {
  // A file that failed with failing tests is counted by its tests; one that failed without any (an import
  // error, a failing hook) counts once.
  const failedFiles = (r.testResults ?? []).filter(
    (f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
  return {
    passed: r.numPassedTests ?? 0,
    failed: (r.numFailedTests ?? 0) + failedFiles,
    skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0),
  };
}

/** JUnit: each <testcase>, by its <failure>/<error>/<skipped> children. */
function junitCounts(text: string): Counts {
  const c: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const tc of text.split("<testcase").slice(1)) {
    const body = tc.split("</testcase>")[0] ?? "";
    if (/<failure|<error/.test(body)) c.failed += 1;
    else if (/<skipped/.test(body) || /status="skipped"/.test(body)) c.skipped += 1;
    else c.passed += 1;
  }
  return c;
}

const total: Counts = { passed: 0, failed: 0, skipped: 0 };
const failedSections: string[] = [];
for (const arg of process.argv.slice(2)) {
  const m = /^(.+)=(\d+):(.*)$/.exec(arg);
  if (!m) {
    console.error(`summarize-tests: expected name=status:report,..., got ${arg}`);
    process.exit(2);
  }
  const [, name, status, list] = m as unknown as [string, string, string, string];
  let sectionFailed = 0;
  for (const file of list.split(",").filter(Boolean)) {
    if (!existsSync(file)) {
      console.log(`${file}: missing report (counted as one failure)`);
      sectionFailed += 1;
      continue;
    }
    const text = readFileSync(file, "utf8");
    const c = file.endsWith(".json") ? vitestCounts(JSON.parse(text) as VitestReport) : junitCounts(text);
    console.log(`${file}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
    total.passed += c.passed;
    total.skipped += c.skipped;
    sectionFailed += c.failed;
  }
  if (Number(status) !== 0) {
    failedSections.push(`${name} (exit ${status})`);
    if (sectionFailed === 0) sectionFailed = 1;
  }
  total.failed += sectionFailed;
}
const failedNote = failedSections.length ? `; failed: ${failedSections.join(", ")}` : "";
console.log(`rds-csi: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped${failedNote}`);
