// Prints one closing line over every test that ran (vitest JSON report + csi-sanity JUnit files):
// `rds-csi: N passed, N failed, N skipped`.
import { existsSync, readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.log(`missing report ${file} (counted as one failure)`);
    failed += 1;
    continue;
  }
  const text = readFileSync(file, "utf8");
  if (file.endsWith(".json")) {
    const r = JSON.parse(text);
    passed += r.numPassedTests ?? 0;
    failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0);
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(
      `${file}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`,
    );
  } else {
    // JUnit: count <testcase> elements and their <failure>/<error>/<skipped> children.
    const cases = text.split("<testcase").slice(1);
    let p = 0;
    let f = 0;
    let s = 0;
    for (const c of cases) {
      const body = c.split("</testcase>")[0] ?? "";
      if (/<failure|<error/.test(body)) f += 1;
      else if (/<skipped/.test(body) || /status="skipped"/.test(body)) s += 1;
      else p += 1;
    }
    passed += p;
    failed += f;
    skipped += s;
    console.log(`${file}: ${p} passed, ${f} failed, ${s} skipped`);
  }
}
console.log(`rds-csi: ${passed} passed, ${failed} failed, ${skipped} skipped`);
