// The closing line of scripts/check.sh (scripts/summarize-tests.ts) counts what failed, once each: a failed
// test once (not again for its file), a file that failed without a failing test once, and a section that
// failed without any failing test in its reports (deploy validation, a changed tracked file) once, named.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = resolve(import.meta.dirname, "../../scripts/summarize-tests.ts");
const dir = mkdtempSync(join(tmpdir(), "summary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const vitest = (failing: boolean) =>
  file(
    `vitest-${failing}.json`,
    JSON.stringify({
      numPassedTests: 5,
      numFailedTests: failing ? 2 : 0,
      numPendingTests: 1,
      numTodoTests: 0,
      numFailedTestSuites: failing ? 2 : 0,
      testResults: failing
        ? [
            {
              name: "a.test.ts",
              status: "failed",
              assertionResults: [{ status: "failed" }, { status: "failed" }],
            },
            { name: "b.test.ts", status: "failed", assertionResults: [] }, // an import error: no test ran
            { name: "c.test.ts", status: "passed", assertionResults: [{ status: "passed" }] },
          ]
        : [{ name: "c.test.ts", status: "passed", assertionResults: [{ status: "passed" }] }],
    }),
  );

const junit = file(
  "junit.xml",
  '<testsuite><testcase name="a"></testcase><testcase name="b"><skipped/></testcase><testcase name="c"><failure/></testcase></testsuite>',
);

const lastLine = (...args: string[]) =>
  execFileSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8" })
    .trim()
    .split("\n")
    .at(-1);

describe("summarize-tests", () => {
  it("a green run: every section passed", () => {
    expect(lastLine("deploy files=0:", `vitest=0:${vitest(false)}`, "tracked files unchanged=0:")).toBe(
      "rds-csi: 5 passed, 0 failed, 1 skipped",
    );
  });

  it("counts a failed test once, and a file that failed without a failing test once", () => {
    expect(lastLine(`vitest=1:${vitest(true)}`)).toBe(
      "rds-csi: 5 passed, 3 failed, 1 skipped; failed: vitest (exit 1)",
    );
  });

  it("a check that failed without a test report is one failure, named: never '0 failed' of a failed run", () => {
    expect(lastLine("deploy files=1:", `vitest=0:${vitest(false)}`, "tracked files unchanged=0:")).toBe(
      "rds-csi: 5 passed, 1 failed, 1 skipped; failed: deploy files (exit 1)",
    );
  });

  it("JUnit reports count by test case; a section's failing tests are its failures; a missing report is one", () => {
    expect(lastLine(`csi-sanity=1:${junit}`, `k8s=1:${join(dir, "none.xml")}`)).toBe(
      "rds-csi: 1 passed, 2 failed, 1 skipped; failed: csi-sanity (exit 1), k8s (exit 1)",
    );
  });
});
