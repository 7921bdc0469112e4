// Runs the real csi-sanity (kubernetes-csi/csi-test v5.5.0, built from the Go module proxy and cached,
// never committed) against `rds-csi all` backed by the RouterOS simulator with the loop transport, once
// per access type. JUnit files and logs go to out/csi-sanity/. Exit status: non-zero on any failure.
//
// usage: node test/sanity/run-csi-sanity.ts [--access-type mount|block|both] [--focus REGEX] [--skip REGEX]
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startEmbeddedRds } from "../../src/sim/embedded.ts";

const CSI_TEST_VERSION = "v5.5.0";
const ROOT = resolve(import.meta.dirname, "../..");
const OUT = join(ROOT, "out", "csi-sanity");
const GiB = 1024 ** 3;

// Specs we skip, each with the capability it needs and why we do not offer it yet (docs/csi-sanity.md).
const SKIPS: string[] = [];

function csiSanityBinary(): string {
  const bin = join(ROOT, ".cache", "bin", "csi-sanity");
  const stamp = `${bin}.${CSI_TEST_VERSION}`;
  if (existsSync(bin) && existsSync(stamp)) return bin;
  console.log(`building csi-sanity ${CSI_TEST_VERSION} from the Go module proxy ...`);
  const r = spawnSync("go", ["install", `github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@${CSI_TEST_VERSION}`], {
    env: { ...process.env, GOBIN: join(ROOT, ".cache", "bin"), GOFLAGS: "-mod=mod" },
    stdio: "inherit",
  });
  if (r.status !== 0) throw new Error("go install csi-sanity failed");
  writeFileSync(stamp, "");
  return bin;
}

async function waitForSocket(path: string, child: ChildProcess, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (child.exitCode !== null) throw new Error(`rds-csi exited with ${child.exitCode} before listening`);
    if (Date.now() > deadline) throw new Error(`rds-csi did not create ${path} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function runAsync(file: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

async function runOnce(accessType: "mount" | "block", bin: string, focus?: string, skip?: string): Promise<boolean> {
  const work = mkdtempSync(join(tmpdir(), `csi-sanity-${accessType}-`));
  const rds = await startEmbeddedRds({ dataDir: join(work, "rds"), pools: [{ name: "storage-pool", sizeBytes: 400 * GiB }] });
  const socket = join(work, "csi.sock");
  const driverLog = join(OUT, `driver-${accessType}.log`);
  const driver = spawn(
    join(ROOT, "bin", "rds-csi"),
    ["all", "--endpoint", `unix://${socket}`, "--node-id", "sanity-node", "--known-nodes", "sanity-node", "--transport", "loop", "--loop-root", rds.dataDir, "--volume-path", "storage-pool/sanity", "--log-level", "debug", ...rds.driverFlags()],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const logStream = createWriteStream(driverLog);
  driver.stdout?.pipe(logStream);
  driver.stderr?.pipe(logStream);
  try {
    await waitForSocket(socket, driver);
    const params = join(work, "params.yaml");
    writeFileSync(params, "volumePath: storage-pool/sanity\nnvmePort: \"4420\"\nctrlLossTmo: \"-1\"\nreconnectDelay: \"5\"\nmkfsOptions: \"-E lazy_itable_init=1\"\n");
    // VolumeSnapshotClass parameters for CreateSnapshot: the key the driver understands (docs/snapshots.md).
    const snapshotParams = join(work, "snapshot-params.yaml");
    writeFileSync(snapshotParams, "snapshotMethod: auto\n");
    const skipRe = [...SKIPS, ...(skip ? [skip] : [])].join("|");
    const args = [
      `--csi.endpoint=unix://${socket}`,
      `--csi.stagingdir=${join(work, "staging")}`,
      `--csi.mountdir=${join(work, "mount")}`,
      `--csi.testvolumeaccesstype=${accessType}`,
      `--csi.testvolumesize=${GiB}`,
      `--csi.testvolumeexpandsize=${2 * GiB}`,
      `--csi.testvolumeparameters=${params}`,
      `--csi.testsnapshotparameters=${snapshotParams}`,
      `--csi.junitfile=${join(OUT, `junit-${accessType}.xml`)}`,
      ...(focus ? [`--ginkgo.focus=${focus}`] : []),
      ...(skipRe ? [`--ginkgo.skip=${skipRe}`] : []),
    ];
    console.log(`\n=== csi-sanity ${CSI_TEST_VERSION}, access type ${accessType} ===`);
    const out = join(OUT, `csi-sanity-${accessType}.log`);
    // Asynchronous on purpose: the simulator lives in this process and must keep answering.
    const r = await runAsync(bin, args);
    writeFileSync(out, `${r.stdout}\n${r.stderr}`);
    const summary = `${r.stdout}`.split("\n").filter((l) => /^(Ran \d+ of \d+ Specs|SUCCESS!|FAIL!)/.test(l.replace(/\x1b\[[0-9;]*m/g, "").trim()));
    const failures = `${r.stdout}`.split("\n").filter((l) => /\[FAIL\]/.test(l));
    for (const l of failures.slice(0, 40)) console.log(l.replace(/\x1b\[[0-9;]*m/g, ""));
    for (const l of summary) console.log(`csi-sanity ${accessType}: ${l.replace(/\x1b\[[0-9;]*m/g, "").trim()}`);
    console.log(`  full output: ${out}; driver log: ${driverLog}; junit: ${join(OUT, `junit-${accessType}.xml`)}`);
    return r.status === 0;
  } finally {
    driver.kill("SIGTERM");
    await new Promise((r) => (driver.exitCode !== null ? r(null) : driver.once("exit", r)));
    await rds.close();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { "access-type": { type: "string", default: "both" }, focus: { type: "string" }, skip: { type: "string" } } });
  mkdirSync(OUT, { recursive: true });
  const bin = csiSanityBinary();
  const types = values["access-type"] === "both" ? (["mount", "block"] as const) : [values["access-type"] as "mount" | "block"];
  let ok = true;
  for (const t of types) ok = (await runOnce(t, bin, values.focus, values.skip)) && ok;
  console.log(ok ? "csi-sanity: all runs passed" : "csi-sanity: FAILURES (see above)");
  process.exit(ok ? 0 : 1);
}

await main();
