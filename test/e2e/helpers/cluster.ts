// A small "cluster" inside the VM: the RouterOS simulator exporting its disks through the kernel's
// nvmet, the driver's controller, and one or more node plugins using the nvme-tcp transport against
// 127.0.0.1 — all in this process (Node starts slowly under TCG), each service on its own unix socket,
// driven over gRPC the way the external-provisioner, external-attacher and kubelet drive them.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type RunningDriver, startDriver } from "../../../src/cli/run-driver.ts";
import { loadConfig } from "../../../src/config/load.ts";
import type { Mode } from "../../../src/config/schema.ts";
import { type CsiClient, connectCsi } from "../../../src/csi/client.ts";
import { deriveHostNqn } from "../../../src/node/nvme/host-nqn.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import type { RdsClient } from "../../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../../src/sim/embedded.ts";
import { GiB, nvmeControllerNames } from "./kernel.ts";

export const DRIVER = "rds.csi.mikrotik.com";
export const NQN_PREFIX = "nqn.2026-01.com.mikrotik.rds-csi";
export const NVME_ADDRESS = "127.0.0.1";
export const NVME_PORT = 4420;
export const VOLUME_PATH = "storage-pool/e2e";

export interface NodePlugin {
  nodeId: string;
  hostNqn: string;
  csi: CsiClient;
  driver: RunningDriver;
  /** Kubelet-like directory of this node (staging and pod volume paths live below it). */
  kubeletDir: string;
}

export interface Cluster {
  rds: EmbeddedRds;
  /** The controller's RDS client: used to play the appliance's administrator (disable an export, ...). */
  rdsClient: RdsClient;
  controller: CsiClient;
  nodes: NodePlugin[];
  node(nodeId: string): NodePlugin;
  workDir: string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  /** Log file name under $E2E_OUT/logs (driver and simulator logs of this scenario). */
  name: string;
  /** Node ids; the first one shares the process with the controller when `combined`. */
  nodes?: string[];
  /** One `rds-csi all` (controller and node in one server) instead of separate services. */
  combined?: boolean;
  poolBytes?: number;
}

function scenarioLog(name: string) {
  const out = process.env.E2E_OUT;
  if (!out) return { logger: createLogger({ level: "silent" }), line: (_: string) => {} };
  mkdirSync(join(out, "logs"), { recursive: true });
  const dest = pino.destination({ dest: join(out, "logs", `${name}.log`), sync: true });
  const logger = createLogger({ level: "debug", destination: dest });
  return { logger, line: (m: string) => logger.info({ component: "sim" }, m) };
}

/** Best effort: unmount what is under workDir, release loop pins on it, disconnect managed NQNs. */
function cleanupAfter(workDir: string): void {
  const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore", timeout: 30_000 });
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(`${workDir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) quiet("umount", ["-l", m]);
  const loops =
    spawnSync("losetup", ["--list", "--noheadings", "--output", "NAME,BACK-FILE"], { encoding: "utf8" })
      .stdout ?? "";
  for (const line of loops.split("\n")) {
    const [name, file] = line.trim().split(/\s+/);
    if (name && file?.startsWith(`${workDir}/kubelet/`)) quiet("losetup", ["-d", name]);
  }
  for (const c of nvmeControllerNames()) {
    const nqn = (() => {
      try {
        return readFileSync(join("/sys/class/nvme", c, "subsysnqn"), "utf8").trim();
      } catch {
        return "";
      }
    })();
    if (nqn.startsWith(`${NQN_PREFIX}:`)) quiet("nvme", ["disconnect", `--device=${c}`]);
  }
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const nodeIds = o.nodes ?? ["node-a"];
  const workDir = mkdtempSync(join(tmpdir(), `e2e-${o.name}-`));
  const { logger, line } = scenarioLog(o.name);
  const rds = await startEmbeddedRds({
    dataDir: join(workDir, "rds"),
    pools: [{ name: "storage-pool", sizeBytes: o.poolBytes ?? 100 * GiB }],
    nvmet: "required",
    nvmetAddress: NVME_ADDRESS,
    nvmetLog: line,
  });
  const common = ["--driver-name", DRIVER, "--nqn-prefix", NQN_PREFIX, "--log-level", "debug"];
  const controllerFlags = [
    ...rds.driverFlags(),
    "--volume-path",
    VOLUME_PATH,
    "--nvme-address",
    NVME_ADDRESS,
    "--nvme-port",
    String(NVME_PORT),
    "--known-nodes",
    nodeIds.join(","),
  ];
  const nodeFlags = ["--transport", "nvme-tcp"];
  const start = async (mode: Mode, endpointName: string, flags: string[]) => {
    const endpoint = `unix://${join(workDir, `${endpointName}.sock`)}`;
    const config = loadConfig(mode, ["--endpoint", endpoint, ...common, ...flags], {});
    return startDriver(config, logger.child({ mode, service: endpointName }));
  };

  const drivers: RunningDriver[] = [];
  const nodes: NodePlugin[] = [];
  let controllerDriver: RunningDriver;
  const plugin = (nodeId: string, driver: RunningDriver): NodePlugin => {
    const kubeletDir = join(workDir, "kubelet", nodeId);
    mkdirSync(kubeletDir, { recursive: true });
    return {
      nodeId,
      hostNqn: deriveHostNqn(nodeId, DRIVER),
      csi: connectCsi(driver.endpoint),
      driver,
      kubeletDir,
    };
  };
  if (o.combined) {
    const [first, ...rest] = nodeIds;
    controllerDriver = await start("all", "all", [...controllerFlags, ...nodeFlags, "--node-id", first!]);
    drivers.push(controllerDriver);
    nodes.push(plugin(first!, controllerDriver));
    for (const id of rest) {
      const d = await start("node", `node-${id}`, [...nodeFlags, "--node-id", id]);
      drivers.push(d);
      nodes.push(plugin(id, d));
    }
  } else {
    controllerDriver = await start("controller", "controller", controllerFlags);
    drivers.push(controllerDriver);
    for (const id of nodeIds) {
      const d = await start("node", `node-${id}`, [...nodeFlags, "--node-id", id]);
      drivers.push(d);
      nodes.push(plugin(id, d));
    }
  }
  const controller = o.combined ? nodes[0]!.csi : connectCsi(controllerDriver.endpoint);
  return {
    rds,
    rdsClient: controllerDriver.rds!,
    controller,
    nodes,
    node(id) {
      const n = nodes.find((x) => x.nodeId === id);
      if (!n) throw new Error(`no node ${id}`);
      return n;
    },
    workDir,
    async close() {
      controller.close();
      for (const n of nodes) n.csi.close();
      for (const d of drivers.reverse()) await d.stop();
      // A failed scenario leaves its mounts, pins and connections behind; the next one must start clean.
      cleanupAfter(workDir);
      await rds.close(); // tears the nvmet exports down
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
