// NVMe/TCP benchmark: NodeStage, NodePublish, NodeUnpublish and NodeUnstage over real NVMe/TCP (the
// simulator exporting through the guest kernel's nvmet, the node connecting to 127.0.0.1), through the
// driver vs the same nvme/blkid/e2fsck/mount commands from shell scripts, interleaved in one VM boot. Boots the e2e VM
// (test/e2e/harness) with bench/nvme-e2e-guest.ts as the guest program. Needs root.
// Run: npm run bench -- nvme-e2e   (BENCH_ITERATIONS, default 10; each iteration is 4 operations)
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootVm, prepareVm, REPO } from "../test/e2e/harness/vm.ts";
import { fmtMs, median, percentile } from "./stats.ts";

interface BenchJson {
  iterations: number;
  kernel: string;
  samples: Record<`${"driver" | "shell"}${"Stage" | "Publish" | "Unpublish" | "Unstage"}`, number[]>;
}

export async function benchNvmeE2e(): Promise<void> {
  const out = join(REPO, "out", "e2e-bench");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "guest-args"), "bench/nvme-e2e-guest.ts\n");
  const image = prepareVm();
  const boot = await bootVm(image, {
    entry: join(REPO, "test/e2e/guest/run-node.sh"),
    outDir: out,
    consoleLog: join(out, "console.log"),
    timeoutMs: 20 * 60_000,
  });
  const file = join(out, "bench.json");
  if (!existsSync(file)) {
    console.error(
      `nvme-e2e: the guest wrote no results (VM ran ${fmtMs(boot.wallMs)}); console: ${join(out, "console.log")}`,
    );
    process.exitCode = 1;
    return;
  }
  const r = JSON.parse(readFileSync(file, "utf8")) as BenchJson;
  const s = r.samples;
  const line = (what: string, d: number[], b: number[]) =>
    `| ${what} | ${fmtMs(median(d))} | ${fmtMs(median(b))} | ${fmtMs(percentile(d, 90))} | ${fmtMs(percentile(b, 90))} | ${(((median(d) - median(b)) / median(b)) * 100).toFixed(1)}% |`;
  console.log("\n## NVMe/TCP node operations in the e2e VM (TCG), driver vs shell script");
  console.log(
    `${r.iterations} interleaved iterations, guest kernel ${r.kernel}, existing ext4 volume of 1 GiB.\n`,
  );
  console.log("| operation | driver median | shell median | driver p90 | shell p90 | overhead (median) |");
  console.log("|---|---|---|---|---|---|");
  console.log(line("NodeStageVolume (connect, probe, e2fsck -n, mount)", s.driverStage, s.shellStage));
  console.log(line("NodePublishVolume (bind mount)", s.driverPublish, s.shellPublish));
  console.log(line("NodeUnpublishVolume (umount)", s.driverUnpublish, s.shellUnpublish));
  console.log(line("NodeUnstageVolume (umount, in-use check, disconnect)", s.driverUnstage, s.shellUnstage));
  const cycle = (who: "driver" | "shell") =>
    s[`${who}Stage`].map(
      (x, i) => x + s[`${who}Publish`][i]! + s[`${who}Unpublish`][i]! + s[`${who}Unstage`][i]!,
    );
  console.log(line("all four, per iteration", cycle("driver"), cycle("shell")));
  console.log(`\nVM wall time ${fmtMs(boot.wallMs)}; raw samples in ${file}`);
}
