// `npm run test:e2e`: the NVMe/TCP end-to-end suite. Prepares the VM (apt-get, Debian kernel, initramfs;
// cached under .cache/e2e/), builds csi-sanity on the host (the VM has no network), boots the VM once and
// runs test/e2e/scenarios/*.e2e.ts inside it (guest/suite.sh). The verdict comes from the results the
// guest wrote to out/e2e/ (vitest JSON), never from qemu's exit status: a guest that crashed, hung or
// never started vitest is a failure. Prints `e2e: N passed, N failed`; out/e2e/ keeps junit.xml,
// vitest.json, csi-sanity/, logs/, dmesg.txt and console.log.
//
// usage: node test/e2e/run-e2e.ts [--echo] [--timeout-s N] [vitest args for the guest, e.g. 02-filesystem -t name]
//        node test/e2e/run-e2e.ts --entry test/e2e/guest/probe.sh     (any guest script, for debugging)
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { csiSanityBinary } from "../sanity/run-csi-sanity.ts";
import { bootVm, prepareVm, REPO } from "./harness/vm.ts";

export const E2E_OUT = join(REPO, "out", "e2e");
const EMULATOR_CRASH = /Fatal error in|Worker exited unexpectedly with signal (SIGTRAP|SIGILL|SIGSEGV)/;

interface VitestJson {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numFailedTestSuites?: number;
  testResults?: Array<{
    name: string;
    status: string;
    message?: string;
    assertionResults?: Array<{
      fullName: string;
      status: string;
      duration?: number;
      failureMessages?: string[];
    }>;
  }>;
}

/** Our three flags; everything else (file filters, `-t NAME`, ...) goes to vitest in the guest as is. */
function parseCli(argv: string[]): {
  values: { echo?: boolean; entry?: string; "timeout-s"?: string };
  positionals: string[];
} {
  const values: { echo?: boolean; entry?: string; "timeout-s"?: string } = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--echo") values.echo = true;
    else if (a === "--entry" || a === "--timeout-s") values[a.slice(2) as "entry" | "timeout-s"] = argv[++i];
    else positionals.push(a);
  }
  return { values, positionals };
}

function ranNothing(reportFile: string): boolean {
  if (!existsSync(reportFile)) return true;
  const r = JSON.parse(readFileSync(reportFile, "utf8")) as VitestJson;
  return (r.numPassedTests ?? 0) + (r.numFailedTests ?? 0) === 0;
}

function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseCli(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error("test:e2e needs root (apt-get, depmod, qemu with 9p of /)");
    return 2;
  }
  const started = performance.now();
  rmSync(E2E_OUT, { recursive: true, force: true });
  mkdirSync(E2E_OUT, { recursive: true });
  const image = prepareVm();
  csiSanityBinary(); // built here: the guest has no network
  writeFileSync(join(E2E_OUT, "guest-args"), positionals.map((a) => `${a}\n`).join(""));
  const prepared = performance.now();
  console.log(`e2e: prepared in ${fmtS(prepared - started)} (kernel ${image.release}); booting the VM (TCG)`);

  const entry = resolve(REPO, (values.entry as string | undefined) ?? "test/e2e/guest/suite.sh");
  const consoleLog = join(E2E_OUT, "console.log");
  const runVm = () =>
    bootVm(image, {
      entry,
      outDir: E2E_OUT,
      consoleLog,
      echo: Boolean(values.echo),
      ...(process.env.E2E_CPU ? { cpuModel: process.env.E2E_CPU } : {}),
      timeoutMs: Number(values["timeout-s"] ?? 900) * 1000,
    });
  let boot = await runVm();
  // Node itself sometimes dies inside the emulator (a V8 fatal check, SIGTRAP or SIGSEGV while loading
  // modules under TCG: 3 boots in 16, twice in a row once). Before any test ran, that says nothing
  // about the driver: boot again, loudly, at most twice more.
  for (
    let retry = 1;
    retry <= 2 &&
    !values.entry &&
    EMULATOR_CRASH.test(boot.console) &&
    ranNothing(join(E2E_OUT, "vitest.json"));
    retry++
  ) {
    console.log(
      `e2e: Node crashed inside the emulator before any test ran (see console.log.${retry}); booting the VM again`,
    );
    renameSync(consoleLog, `${consoleLog}.${retry}`);
    boot = await runVm();
  }
  console.log(
    `e2e: VM ran ${fmtS(boot.wallMs)}${boot.timedOut ? " and was KILLED at the timeout" : ""} (qemu exit ${boot.code})`,
  );
  for (const m of boot.console.matchAll(/^E2E: .*$/gm)) console.log(`  ${m[0].trim()}`);

  if (values.entry) return 0; // a debugging entry: the console is the result

  const reportFile = join(E2E_OUT, "vitest.json");
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (existsSync(reportFile)) {
    const r = JSON.parse(readFileSync(reportFile, "utf8")) as VitestJson;
    for (const file of r.testResults ?? []) {
      console.log(`\n${file.name.replace(`${REPO}/`, "")}: ${file.status}`);
      if (file.message) console.log(`  ${file.message.split("\n").slice(0, 5).join("\n  ")}`);
      for (const t of file.assertionResults ?? []) {
        console.log(
          `  ${t.status === "passed" ? "✓" : t.status === "failed" ? "✗" : "-"} ${t.fullName} (${fmtS(t.duration ?? 0)})`,
        );
        for (const f of t.failureMessages ?? [])
          console.log(`      ${f.split("\n").slice(0, 8).join("\n      ")}`);
      }
    }
    passed = r.numPassedTests ?? 0;
    // A file that failed without a failed test (an import error, a failing beforeAll) counts once.
    const brokenFiles = (r.testResults ?? []).filter(
      (f) => f.status === "failed" && !(f.assertionResults ?? []).some((t) => t.status === "failed"),
    ).length;
    failed = (r.numFailedTests ?? 0) + brokenFiles;
    skipped = r.numPendingTests ?? 0;
    if (passed + failed === 0) failed = 1; // ran nothing: not a pass
  } else {
    failed = 1;
    console.log(
      "\ne2e: the guest wrote no results (vitest did not run or did not finish); last console lines:",
    );
    console.log(boot.console.split("\n").slice(-40).join("\n"));
  }
  if (failed === 0 && !boot.timedOut) rmSync(consoleLog, { force: true });
  else console.log(`\ne2e: console log kept in ${consoleLog}`);
  console.log(
    `\ne2e: total ${fmtS(performance.now() - started)} (prepare ${fmtS(prepared - started)}, VM ${fmtS(boot.wallMs)}); reports in ${E2E_OUT}`,
  );
  console.log(`e2e: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  return failed === 0 && !boot.timedOut ? 0 : 1;
}

if (import.meta.main) process.exit(await main());
