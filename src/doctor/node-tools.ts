// User-space tools the node plugin runs. Immutable hosts (Talos, Flatcar, RHCOS) have none of them, so
// they must come from the plugin image; a hand-built image or a host install can miss one, and the
// failure then shows only when the first volume of that kind is staged.
import { versionAtLeast } from "../controller/context.ts";
import { run } from "../util/exec.ts";
import { type HostEnv, osRelease, which } from "./host.ts";
import { familyOf, installToolFix, type ToolPackage } from "./remedies.ts";
import { type Check, fail, ok, warn } from "./types.ts";

/** nvme-cli `version` output across 1.x and 2.x: `nvme version 2.3 (git 2.3)` / `nvme version 1.16`. */
export function parseNvmeCliVersion(text: string): string | undefined {
  return /nvme version\s+v?(\d+(?:\.\d+)+)/i.exec(text)?.[1];
}

// The tools run where the doctor runs (the plugin container or the host), so the os-release that
// decides the install command is the one at "/", not below --host-root.
async function family(env: HostEnv) {
  return familyOf(await osRelease({ ...env, hostRoot: "/" }));
}

export function nvmeCliCheck(env: HostEnv): Check {
  return {
    id: "node.tools.nvme-cli",
    title: "nvme-cli (nvme connect / disconnect)",
    async run() {
      const path = await which(env, "nvme");
      if (!path) return fail("nvme is not on the PATH", installToolFix(await family(env), "nvme"));
      const r = await run(path, ["version"], { timeoutMs: 10_000 }).catch((e: Error) => e);
      if (r instanceof Error)
        return fail(`${path} version: ${r.message}`, installToolFix(await family(env), "nvme"));
      const version = parseNvmeCliVersion(`${r.stdout}\n${r.stderr}`);
      if (r.code !== 0 || !version)
        return fail(
          `${path} version exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`,
          installToolFix(await family(env), "nvme"),
        );
      // TCP transport support in `nvme connect` arrived in nvme-cli 1.7 (2019).
      if (!versionAtLeast(version, [1, 7]))
        return warn(
          `${path} is nvme-cli ${version}, older than 1.7 (no TCP transport)`,
          installToolFix(await family(env), "nvme"),
        );
      return ok(`${path}: nvme-cli ${version}`);
    },
  };
}

interface ToolGroup {
  id: string;
  title: string;
  /** Each entry: alternatives, any one of which will do. */
  tools: string[][];
  pkg: ToolPackage;
  /** Missing tools fail (needed by every volume) or only warn (needed by some StorageClasses). */
  severity: "fail" | "warn";
  why: string;
}

const GROUPS: ToolGroup[] = [
  {
    id: "node.tools.base",
    title: "Block device and mount tools (blkid, mount, umount, losetup)",
    tools: [["blkid"], ["mount"], ["umount"], ["losetup"]],
    pkg: "util-linux",
    severity: "fail",
    why: "every volume",
  },
  {
    id: "node.tools.exec-helper",
    title: "bash (the plugin's exec helpers start host tools with it)",
    tools: [["bash"]],
    pkg: "bash",
    severity: "warn",
    why: "fast tool starts; without it every tool is forked from the plugin itself (slower, stalls other volumes)",
  },
  {
    id: "node.tools.ext4",
    title: "ext4 tools (mkfs.ext4, fsck.ext4/e2fsck, resize2fs)",
    tools: [["mkfs.ext4"], ["e2fsck", "fsck.ext4"], ["resize2fs"]],
    pkg: "e2fs",
    severity: "fail",
    why: "ext4 volumes (the default fsType)",
  },
  {
    id: "node.tools.xfs",
    title: "XFS tools (mkfs.xfs, xfs_repair, xfs_growfs)",
    tools: [["mkfs.xfs"], ["xfs_repair"], ["xfs_growfs"]],
    pkg: "xfs",
    severity: "warn",
    why: "volumes of StorageClasses with fsType xfs",
  },
];

function toolGroupCheck(env: HostEnv, g: ToolGroup): Check {
  return {
    id: g.id,
    title: g.title,
    async run() {
      const found: string[] = [];
      const missing: string[] = [];
      for (const alternatives of g.tools) {
        let hit: string | undefined;
        for (const t of alternatives) {
          hit = await which(env, t);
          if (hit) break;
        }
        if (hit) found.push(hit);
        else missing.push(alternatives.join(" or "));
      }
      if (missing.length === 0) return ok(found.join(", "));
      const detail = `missing: ${missing.join(", ")} (needed by ${g.why})`;
      const fix = installToolFix(await family(env), g.pkg);
      return g.severity === "fail" ? fail(detail, fix) : warn(detail, fix);
    },
  };
}

export function toolChecks(env: HostEnv): Check[] {
  return GROUPS.map((g) => toolGroupCheck(env, g));
}
