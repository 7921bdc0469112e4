// `rds-csi demo`: brings the driver up on the embedded RouterOS simulator (loop transport, so it runs on
// any Linux box where we are root) and walks one volume through its whole life, the way the
// external-provisioner, external-attacher and kubelet would, printing each step.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.ts";
import { connectCsi } from "../csi/client.ts";
import { createLogger } from "../observability/logger.ts";
import { startEmbeddedRds } from "../sim/embedded.ts";
import { type FlagTable, formatFlags, parseArgsOptions } from "./help.ts";
import { startDriver } from "./run-driver.ts";

const GiB = 1024 ** 3;
const color = process.stdout.isTTY
  ? (c: number, s: string) => `\x1b[${c}m${s}\x1b[0m`
  : (_: number, s: string) => s;

/** The demo's flags; its parser and --help are both built from this table (src/cli/help.ts). */
export const DEMO_FLAGS = {
  fs: {
    type: "string",
    arg: "FS",
    description: "filesystem of the demo volume: ext4 or xfs",
    default: "ext4",
  },
  "log-level": {
    type: "string",
    arg: "LEVEL",
    description: "the driver's log level (trace, debug, info, warn, error, fatal, silent)",
    default: "warn",
  },
  keep: {
    type: "boolean",
    description: "keep the work directory (simulator data, sockets) under the temp dir afterwards",
    default: "off (removed)",
  },
} as const satisfies FlagTable;

const USAGE = `usage: rds-csi demo [flags]

Walks one volume through its whole life on the embedded RouterOS simulator, the way Kubernetes would:
create, attach, stage, publish, write, read back, stage again, and delete. Needs root (loop devices, mounts).

flags:
${formatFlags(DEMO_FLAGS)}`;

export async function runDemo(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: parseArgsOptions(DEMO_FLAGS), strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      "rds-csi demo: needs root (it attaches loop devices and mounts filesystems, as the node plugin does)\n",
    );
    process.exit(1);
  }
  const work = mkdtempSync(join(tmpdir(), "rds-csi-demo-"));
  const started = performance.now();
  let n = 0;
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    n += 1;
    const t0 = performance.now();
    process.stdout.write(`${color(36, `[${String(n).padStart(2)}]`)} ${what} ... `);
    try {
      const r = await fn();
      process.stdout.write(`${color(32, "ok")} ${color(90, `(${Math.round(performance.now() - t0)} ms)`)}\n`);
      return r;
    } catch (err) {
      process.stdout.write(`${color(31, "FAILED")}\n`);
      throw err;
    }
  };

  const rds = await step("start the RouterOS simulator (SSH, public-key auth, pinned host key)", () =>
    startEmbeddedRds({ dataDir: join(work, "rds"), pools: [{ name: "storage-pool", sizeBytes: 20 * GiB }] }),
  );
  process.stdout.write(
    `     simulator at ${rds.sim.host}:${rds.sim.port}, host key ${rds.sim.hostKeyFingerprint}\n`,
  );
  const socket = join(work, "csi.sock");
  const config = loadConfig("all", [
    "--endpoint",
    `unix://${socket}`,
    "--node-id",
    "demo-node",
    "--transport",
    "loop",
    "--loop-root",
    rds.dataDir,
    "--volume-path",
    "storage-pool/demo",
    "--log-level",
    values["log-level"] ?? DEMO_FLAGS["log-level"].default,
    ...rds.driverFlags(),
  ]);
  const driver = await step("start rds-csi (controller + node, loop transport)", () =>
    startDriver(config, createLogger({ level: config.logLevel })),
  );
  const csi = connectCsi(driver.endpoint);
  const fsType = values.fs ?? DEMO_FLAGS.fs.default;
  const cap = {
    mount: { fs_type: fsType, mount_flags: [] },
    access_mode: { mode: "SINGLE_NODE_WRITER" as const },
  };
  const name = `pvc-${randomUUIDish()}`;
  const staging = join(work, "staging");
  const target = join(work, "pods", "demo-pod", "volume");
  const target2 = join(work, "pods", "demo-pod-2", "volume");
  mkdirSync(staging, { recursive: true });
  const payload = randomBytes(4 * 1024 * 1024);
  const digest = createHash("sha256").update(payload).digest("hex");

  try {
    const probe = await step("Probe: the driver reaches the RDS", () => csi.identity.Probe({}));
    if (!probe.ready?.value) throw new Error("driver not ready");
    const vol = await step(`CreateVolume ${name} (1 GiB, ${fsType})`, () =>
      csi.controller.CreateVolume({
        name,
        capacity_range: { required_bytes: String(GiB) },
        volume_capabilities: [cap],
      }),
    );
    const id = vol.volume!.volume_id!;
    const disk = await driver.rds!.getDisk(id);
    process.stdout.write(
      `     RDS disk: slot=${disk?.slot} file=/${disk?.filePath} size=${disk?.sizeBytes} nqn=${disk?.nqn}\n`,
    );
    const pub = await step("ControllerPublishVolume to demo-node (attach fencing, allowed host)", () =>
      csi.controller.ControllerPublishVolume({ volume_id: id, node_id: "demo-node", volume_capability: cap }),
    );
    const stage = () =>
      csi.node.NodeStageVolume({
        volume_id: id,
        staging_target_path: staging,
        volume_capability: cap,
        publish_context: pub.publish_context,
        volume_context: vol.volume!.volume_context,
      });
    await step("NodeStageVolume: attach, blkid says empty, mkfs, mount", stage);
    await step("NodePublishVolume: bind mount into the pod", () =>
      csi.node.NodePublishVolume({
        volume_id: id,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
        publish_context: pub.publish_context,
      }),
    );
    await step(`write 4 MiB of random data (sha256 ${digest.slice(0, 16)}...)`, async () =>
      writeFileSync(join(target, "data.bin"), payload),
    );
    await step("read it back through the mount", async () =>
      check(readFileSync(join(target, "data.bin")), digest),
    );
    const stats = await step("NodeGetVolumeStats", () =>
      csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: target }),
    );
    const bytes = stats.usage?.find((u) => u.unit === "BYTES");
    process.stdout.write(
      `     used ${bytes?.used} of ${bytes?.total} bytes, condition: ${stats.volume_condition?.abnormal ? "abnormal" : "normal"}\n`,
    );
    await step("NodeUnpublishVolume", () =>
      csi.node.NodeUnpublishVolume({ volume_id: id, target_path: target }),
    );
    await step("NodeUnstageVolume: unmount, detach (nothing uses the device)", () =>
      csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging }),
    );
    await step("NodeStageVolume again (as for a new pod): fsck health check, mount, no mkfs", stage);
    await step("NodePublishVolume into a second pod", () =>
      csi.node.NodePublishVolume({
        volume_id: id,
        staging_target_path: staging,
        target_path: target2,
        volume_capability: cap,
        publish_context: pub.publish_context,
      }),
    );
    await step("verify the data survived", async () =>
      check(readFileSync(join(target2, "data.bin")), digest),
    );
    await step("NodeUnpublishVolume", () =>
      csi.node.NodeUnpublishVolume({ volume_id: id, target_path: target2 }),
    );
    await step("NodeUnstageVolume", () =>
      csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging }),
    );
    await step("ControllerUnpublishVolume", () =>
      csi.controller.ControllerUnpublishVolume({ volume_id: id, node_id: "demo-node" }),
    );
    await step("DeleteVolume: disable export, remove disk, remove its file", () =>
      csi.controller.DeleteVolume({ volume_id: id }),
    );
    const gone = !(await driver.rds!.getDisk(id)) && !(await driver.rds!.getFile(disk!.filePath));
    if (!gone) throw new Error("the disk or its file is still on the RDS");
    process.stdout.write(
      color(
        32,
        `\nThe volume went through its whole life in ${Math.round(performance.now() - started)} ms; nothing is left on the RDS.\n`,
      ),
    );
  } finally {
    csi.close();
    await driver.stop();
    await rds.close();
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }
}

function check(data: Buffer, digest: string): void {
  const got = createHash("sha256").update(data).digest("hex");
  if (got !== digest) throw new Error(`checksum mismatch: ${got} != ${digest}`);
}

function randomUUIDish(): string {
  const h = randomBytes(16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
