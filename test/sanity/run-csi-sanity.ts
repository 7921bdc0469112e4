// Runs the real csi-sanity (kubernetes-csi/csi-test v5.5.0, built from the Go module proxy and cached,
// never committed) against `rds-csi all` backed by the RouterOS simulator, once per access type. With the
// loop transport (default) the node attaches the simulator's files as loop devices; with nvme-tcp (only
// where the kernel has nvmet and nvme-tcp: the e2e VM) the simulator exports its disks through nvmet and
// the node connects over NVMe/TCP to 127.0.0.1. JUnit files and logs go to out/csi-sanity/ (--out DIR).
// Exit status: non-zero on any failure. The e2e scenarios import runCsiSanity() and csiSanityBinary().
//
// usage: node test/sanity/run-csi-sanity.ts [--access-type mount|block|both] [--transport loop|nvme-tcp]
//                                           [--out DIR] [--focus REGEX] [--skip REGEX] [--pool-fs xfs|btrfs]
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startEmbeddedRds } from "../../src/sim/embedded.ts";

const CSI_TEST_VERSION = "v5.5.0";
const ROOT = resolve(import.meta.dirname, "../..");
const GiB = 1024 ** 3;

export type SanityTransport = "loop" | "nvme-tcp";

export interface SanityRun {
  accessType: "mount" | "block";
  transport?: SanityTransport;
  /** Where JUnit files and logs go (default out/csi-sanity). */
  outDir?: string;
  focus?: string;
  skip?: string;
  /**
   * Run the driver in this process (startDriver with the same flags) instead of spawning bin/rds-csi:
   * for the e2e VM, where each Node start-up costs ~15 s under TCG.
   */
  inProcess?: boolean;
  /** File system of the simulated pool (default xfs: snapshots by file-copy; btrfs: by subvolume). */
  poolFs?: "xfs" | "btrfs";
}

// Specs we skip, each with the capability it needs and why we do not offer it yet (docs/csi-sanity.md).
const SKIPS: string[] = [];

/** Path of the cached csi-sanity binary, built with `go install` on first use (needs the Go module proxy). */
export function csiSanityBinary(): string {
  const bin = join(ROOT, ".cache", "bin", "csi-sanity");
  const stamp = `${bin}.${CSI_TEST_VERSION}`;
  if (existsSync(bin) && existsSync(stamp)) return bin;
  console.log(`building csi-sanity ${CSI_TEST_VERSION} from the Go module proxy ...`);
  const r = spawnSync(
    "go",
    ["install", `github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@${CSI_TEST_VERSION}`],
    {
      env: { ...process.env, GOBIN: join(ROOT, ".cache", "bin"), GOFLAGS: "-mod=mod" },
      stdio: "inherit",
    },
  );
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

function runAsync(
  file: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
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

interface Driver {
  stop(): Promise<void>;
}

async function startChild(flags: string[], driverLog: string, socket: string): Promise<Driver> {
  const driver = spawn(join(ROOT, "bin", "rds-csi"), ["all", ...flags], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logStream = createWriteStream(driverLog);
  driver.stdout?.pipe(logStream);
  driver.stderr?.pipe(logStream);
  const stop = async () => {
    driver.kill("SIGTERM");
    await new Promise((r) => (driver.exitCode !== null ? r(null) : driver.once("exit", r)));
  };
  try {
    await waitForSocket(socket, driver);
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

async function startInProcess(flags: string[], driverLog: string): Promise<Driver> {
  const [{ startDriver }, { loadConfig }, { createLogger }, { default: pino }] = await Promise.all([
    import("../../src/cli/run-driver.ts"),
    import("../../src/config/load.ts"),
    import("../../src/observability/logger.ts"),
    import("pino"),
  ]);
  const log = createLogger({
    level: "debug",
    destination: pino.destination({ dest: driverLog, sync: true }),
  });
  return startDriver(loadConfig("all", flags, {}), log);
}

/** One csi-sanity run for one access type; true when every spec passed. */
export async function runCsiSanity(run: SanityRun, bin: string = csiSanityBinary()): Promise<boolean> {
  const { accessType, focus, skip } = run;
  const transport = run.transport ?? "loop";
  const outDir = run.outDir ?? join(ROOT, "out", "csi-sanity");
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), `csi-sanity-${accessType}-`));
  const rds = await startEmbeddedRds({
    dataDir: join(work, "rds"),
    pools: [{ name: "storage-pool", sizeBytes: 400 * GiB, fs: run.poolFs ?? "xfs" }],
    ...(transport === "nvme-tcp" ? { nvmet: "required" as const, nvmetAddress: "127.0.0.1" } : {}),
  });
  const socket = join(work, "csi.sock");
  const driverLog = join(outDir, `driver-${accessType}.log`);
  const transportFlags =
    transport === "loop"
      ? ["--transport", "loop", "--loop-root", rds.dataDir]
      : ["--transport", "nvme-tcp", "--nvme-address", "127.0.0.1"];
  const flags = [
    "--endpoint",
    `unix://${socket}`,
    "--node-id",
    "sanity-node",
    "--known-nodes",
    "sanity-node",
    // A per-node attach limit, so csi-sanity's "more volumes than the node max attach limit" spec runs.
    "--max-volumes-per-node",
    "8",
    ...transportFlags,
    "--volume-path",
    "storage-pool/sanity",
    "--log-level",
    "debug",
    ...rds.driverFlags(),
  ];
  const driver = run.inProcess
    ? await startInProcess(flags, driverLog)
    : await startChild(flags, driverLog, socket);
  try {
    const params = join(work, "params.yaml");
    writeFileSync(
      params,
      'volumePath: storage-pool/sanity\nnvmePort: "4420"\nctrlLossTmo: "-1"\nreconnectDelay: "5"\nmkfsOptions: "-E lazy_itable_init=1"\n',
    );
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
      "--csi.testnodevolumeattachlimit",
      `--csi.junitfile=${join(outDir, `junit-${accessType}.xml`)}`,
      ...(focus ? [`--ginkgo.focus=${focus}`] : []),
      ...(skipRe ? [`--ginkgo.skip=${skipRe}`] : []),
    ];
    console.log(
      `\n=== csi-sanity ${CSI_TEST_VERSION}, access type ${accessType}, transport ${transport} ===`,
    );
    const out = join(outDir, `csi-sanity-${accessType}.log`);
    // Asynchronous on purpose: the simulator lives in this process and must keep answering.
    const r = await runAsync(bin, args);
    writeFileSync(out, `${r.stdout}\n${r.stderr}`);
    const summary = `${r.stdout}`
      .split("\n")
      .filter((l) => /^(Ran \d+ of \d+ Specs|SUCCESS!|FAIL!)/.test(l.replace(/\x1b\[[0-9;]*m/g, "").trim()));
    const failures = `${r.stdout}`.split("\n").filter((l) => /\[FAIL\]/.test(l));
    for (const l of failures.slice(0, 40)) console.log(l.replace(/\x1b\[[0-9;]*m/g, ""));
    for (const l of summary)
      console.log(`csi-sanity ${accessType}: ${l.replace(/\x1b\[[0-9;]*m/g, "").trim()}`);
    console.log(
      `  full output: ${out}; driver log: ${driverLog}; junit: ${join(outDir, `junit-${accessType}.xml`)}`,
    );
    return r.status === 0;
  } finally {
    await driver.stop();
    await rds.close();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "access-type": { type: "string", default: "both" },
      transport: { type: "string", default: "loop" },
      out: { type: "string" },
      focus: { type: "string" },
      skip: { type: "string" },
      "pool-fs": { type: "string", default: "xfs" },
    },
  });
  if (values["pool-fs"] !== "xfs" && values["pool-fs"] !== "btrfs")
    throw new Error("--pool-fs must be xfs or btrfs");
  if (values.transport !== "loop" && values.transport !== "nvme-tcp")
    throw new Error("--transport must be loop or nvme-tcp");
  const bin = csiSanityBinary();
  const types =
    values["access-type"] === "both"
      ? (["mount", "block"] as const)
      : [values["access-type"] as "mount" | "block"];
  let ok = true;
  for (const t of types)
    ok =
      (await runCsiSanity(
        {
          accessType: t,
          transport: values.transport,
          outDir: values.out,
          focus: values.focus,
          skip: values.skip,
          poolFs: values["pool-fs"],
        },
        bin,
      )) && ok;
  console.log(ok ? "csi-sanity: all runs passed" : "csi-sanity: FAILURES (see above)");
  process.exit(ok ? 0 : 1);
}

// Run as a script only (the e2e scenarios import this file).
if (import.meta.main) await main();
