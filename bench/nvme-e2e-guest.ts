// Guest half of `npm run bench -- nvme-e2e` (runs inside the e2e VM; bench/nvme-e2e.ts boots it):
// NodeStage, NodePublish, NodeUnpublish and NodeUnstage of an existing ext4 volume over real NVMe/TCP
// through the driver (gRPC → node service → nvme-cli, sysfs, blkid, e2fsck, mount), against shell
// scripts running the same commands in the same order, interleaved, in the same VM boot. Writes
// $E2E_OUT/bench.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostIdForNqn } from "../src/node/nvme/host-nqn.ts";
import { buildConnectArgs } from "../src/node/nvme/nvme-target.ts";
import { startCluster } from "../test/e2e/helpers/cluster.ts";
import { GiB, mountAt } from "../test/e2e/helpers/kernel.ts";
import {
  controllerPublish,
  createVolume,
  kubeletPaths,
  mountCap,
  nodePublish,
  nodeStage,
} from "../test/e2e/helpers/volumes.ts";
import { fmtMs, median } from "./stats.ts";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 10);

// What the node service runs to stage an existing ext4 volume over NVMe/TCP, and to unstage it.
const SHELL_STAGE = `set -e
nqn=$1; staging=$2; shift 2
nvme "$@" >/dev/null
dev=
while [ -z "$dev" ]; do
  for s in /sys/class/nvme-subsystem/*; do
    [ "$(cat "$s/subsysnqn" 2>/dev/null)" = "$nqn" ] || continue
    for n in "$s"/nvme*n*; do [ -b "/dev/\${n##*/}" ] && dev=/dev/\${n##*/}; done
  done
  [ -n "$dev" ] || sleep 0.05
done
blkid -p -o export "$dev" >/dev/null
e2fsck -f -n "$dev" >/dev/null 2>&1
mkdir -p "$staging"
mount -t ext4 -o errors=remount-ro "$dev" "$staging"
`;
const SHELL_PUBLISH = `set -e
mkdir -p "$2"
mount --bind "$1" "$2"
`;
const SHELL_UNPUBLISH = `set -e
umount "$1"
rmdir "$1"
`;
const SHELL_UNSTAGE = `set -e
umount "$2"
nvme disconnect --nqn="$1" >/dev/null
`;

async function main(): Promise<void> {
  const c = await startCluster({ name: "bench-nvme-e2e", combined: true });
  try {
    const node = c.nodes[0]!;
    const v = await createVolume(c, "bench", GiB, mountCap(), { mkfsOptions: "-E lazy_itable_init=1" });
    const ctx = await controllerPublish(c, v, node);
    const p = kubeletPaths(node, v);
    await nodeStage(node, v, ctx, p.staging); // formats once; every measured stage finds ext4
    await node.csi.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: p.staging });
    const shellStaging = join(c.workDir, "shell-staging");
    mkdirSync(shellStaging, { recursive: true });
    const connect = buildConnectArgs(
      {
        kind: "nvme-tcp",
        nqn: v.nqn,
        address: "127.0.0.1",
        port: 4420,
        ctrlLossTmo: 1800,
        reconnectDelay: 5,
      },
      { hostNqn: node.hostNqn, hostId: hostIdForNqn(node.hostNqn) },
    );
    const shellTarget = join(c.workDir, "shell-pods", "pod-1", "mount");
    const samples = {
      driverStage: [] as number[],
      driverPublish: [] as number[],
      driverUnpublish: [] as number[],
      driverUnstage: [] as number[],
      shellStage: [] as number[],
      shellPublish: [] as number[],
      shellUnpublish: [] as number[],
      shellUnstage: [] as number[],
    };
    const time = async (into: number[], fn: () => unknown) => {
      const t0 = performance.now();
      await fn();
      into.push(performance.now() - t0);
    };
    const driver = async () => {
      await time(samples.driverStage, () => nodeStage(node, v, ctx, p.staging));
      if (!mountAt(p.staging)) throw new Error("driver stage did not mount");
      await time(samples.driverPublish, () => nodePublish(node, v, ctx, p.staging, p.target));
      if (!mountAt(p.target)) throw new Error("driver publish did not mount");
      await time(samples.driverUnpublish, () =>
        node.csi.node.NodeUnpublishVolume({ volume_id: v.id, target_path: p.target }),
      );
      await time(samples.driverUnstage, () =>
        node.csi.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: p.staging }),
      );
    };
    const shell = async () => {
      await time(samples.shellStage, () =>
        execFileSync("sh", ["-c", SHELL_STAGE, "stage", v.nqn, shellStaging, ...connect]),
      );
      if (!mountAt(shellStaging)) throw new Error("shell stage did not mount");
      await time(samples.shellPublish, () =>
        execFileSync("sh", ["-c", SHELL_PUBLISH, "publish", shellStaging, shellTarget]),
      );
      if (!mountAt(shellTarget)) throw new Error("shell publish did not mount");
      await time(samples.shellUnpublish, () =>
        execFileSync("sh", ["-c", SHELL_UNPUBLISH, "unpublish", shellTarget]),
      );
      await time(samples.shellUnstage, () =>
        execFileSync("sh", ["-c", SHELL_UNSTAGE, "unstage", v.nqn, shellStaging]),
      );
    };
    for (let i = 0; i < ITERATIONS; i++) {
      // Alternate which one goes first, so both see the same conditions.
      if (i % 2 === 0) {
        await driver();
        await shell();
      } else {
        await shell();
        await driver();
      }
    }
    const result = {
      iterations: ITERATIONS,
      kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
      samples,
    };
    if (process.env.E2E_OUT)
      writeFileSync(join(process.env.E2E_OUT, "bench.json"), `${JSON.stringify(result, null, 2)}\n`);
    for (const [k, s] of Object.entries(samples)) console.log(`E2E: bench ${k} median ${fmtMs(median(s))}`);
  } finally {
    await c.close();
  }
}

await main();
