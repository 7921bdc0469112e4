// Kernel support for NVMe/TCP: the three modules and the fabrics control device. Each module is
// classified from the kernel's own records, most direct first: loaded (/proc/modules, /sys/module),
// built in (modules.builtin, kernel config =y), loadable (modules.dep, `modprobe -n`), or impossible on
// this kernel (config says "not set", no module support, no modules installed). The last distinction is
// the one operators need: "load it", "install a package" and "boot another kernel" are different fixes.
import { join } from "node:path";
import { run } from "../util/exec.ts";
import { exists, type HostEnv, kernelConfig, onHost, osRelease, readText, which } from "./host.ts";
import { familyOf, installModuleFix, loadModuleFix, otherKernelFix } from "./remedies.ts";
import { type Check, type CheckResult, fail, ok, warn, worst } from "./types.ts";

export const NVME_MODULES = ["nvme_core", "nvme_fabrics", "nvme_tcp"] as const;
export type NvmeModule = (typeof NVME_MODULES)[number];

const CONFIG_SYMBOL: Record<NvmeModule, string> = {
  nvme_core: "CONFIG_NVME_CORE",
  nvme_fabrics: "CONFIG_NVME_FABRICS",
  nvme_tcp: "CONFIG_NVME_TCP",
};

export type ModuleState =
  | { kind: "loaded" }
  | { kind: "builtin"; evidence: string }
  | { kind: "loadable"; evidence: string }
  | {
      kind: "unavailable";
      cause: "not-built" | "no-module-support" | "no-modules-dir" | "not-installed";
      evidence: string;
    };

/** `nvme-tcp.ko.zst` / `nvme_tcp` → `nvme_tcp`. */
const moduleKey = (s: string) => s.replace(/\.ko(\.(gz|xz|zst))?$/, "").replace(/-/g, "_");

function listsModule(text: string | undefined, mod: string): boolean {
  if (!text) return false;
  for (const line of text.split("\n")) {
    const file = line.split(":")[0]?.trim();
    if (file && moduleKey(file.split("/").pop() ?? "") === mod) return true;
  }
  return false;
}

export interface KernelFacts {
  procModules?: string;
  modulesDir: string;
  modulesDirExists: boolean;
  modulesDep?: string;
  modulesBuiltin?: string;
  config?: { source: string; values: Map<string, string> };
}

export async function kernelFacts(env: HostEnv): Promise<KernelFacts> {
  const modulesDir = onHost(env, `/lib/modules/${env.kernelRelease}`);
  const config = await kernelConfig(env);
  return {
    procModules: await readText(join(env.procRoot, "modules")),
    modulesDir,
    modulesDirExists: await exists(modulesDir),
    modulesDep: await readText(join(modulesDir, "modules.dep")),
    modulesBuiltin: await readText(join(modulesDir, "modules.builtin")),
    ...(config ? { config } : {}),
  };
}

export async function moduleState(env: HostEnv, facts: KernelFacts, mod: NvmeModule): Promise<ModuleState> {
  if (facts.procModules?.split("\n").some((l) => l.split(" ")[0] === mod)) return { kind: "loaded" };
  const sysModule = join(env.sysfsRoot, "module", mod);
  if (await exists(sysModule)) {
    // A loadable module has initstate; a built-in one appears in /sys/module only through its parameters.
    return (await exists(join(sysModule, "initstate")))
      ? { kind: "loaded" }
      : { kind: "builtin", evidence: `${sysModule} without initstate` };
  }
  if (listsModule(facts.modulesBuiltin, mod)) return { kind: "builtin", evidence: "modules.builtin" };
  const symbol = CONFIG_SYMBOL[mod];
  const configured = facts.config?.values.get(symbol);
  if (configured === "y") return { kind: "builtin", evidence: `${symbol}=y in ${facts.config?.source}` };
  if (listsModule(facts.modulesDep, mod))
    return { kind: "loadable", evidence: `listed in ${facts.modulesDir}/modules.dep` };
  if (facts.config && configured !== "m")
    return {
      kind: "unavailable",
      cause: "not-built",
      evidence: `${symbol} ${configured === "n" ? "is not set" : "is absent"}`,
    };
  if (noModuleSupport(facts))
    return {
      kind: "unavailable",
      cause: "no-module-support",
      evidence: "not built in, and the kernel cannot load modules",
    };
  if (!facts.modulesDirExists)
    return { kind: "unavailable", cause: "no-modules-dir", evidence: `${facts.modulesDir} does not exist` };
  // Last resort: ask modprobe without loading anything.
  const modprobe = await which(env, "modprobe");
  if (modprobe) {
    const r = await run(modprobe, ["-n", "-q", mod], { timeoutMs: 10_000 }).catch(() => undefined);
    if (r?.code === 0) return { kind: "loadable", evidence: "modprobe -n succeeds" };
  }
  return {
    kind: "unavailable",
    cause: "not-installed",
    evidence: `not found under ${facts.modulesDir}${configured === "m" ? ` although ${symbol}=m` : ""}`,
  };
}

/** /proc/modules exists exactly when the kernel supports loadable modules (CONFIG_MODULES). */
function noModuleSupport(facts: KernelFacts): boolean {
  return facts.config ? facts.config.values.get("CONFIG_MODULES") !== "y" : facts.procModules === undefined;
}

/** One sentence about the kernel as a whole, for the detail of a failed check. */
function kernelSummary(env: HostEnv, facts: KernelFacts): string {
  const parts = [`kernel ${env.kernelRelease}`];
  if (facts.config) parts.push(`config read from ${facts.config.source}`);
  if (noModuleSupport(facts)) parts.push("no loadable module support");
  else if (!facts.modulesDirExists)
    parts.push(`no ${facts.modulesDir} (modules not installed, or not mounted into this container)`);
  return parts.join(", ");
}

function describe(mod: NvmeModule, s: ModuleState): string {
  switch (s.kind) {
    case "loaded":
      return `${mod}: loaded`;
    case "builtin":
      return `${mod}: built into the kernel`;
    case "loadable":
      return `${mod}: not loaded but loadable (${s.evidence})`;
    case "unavailable":
      return `${mod}: not available (${s.evidence})`;
  }
}

export function kernelModulesCheck(env: HostEnv): Check {
  return {
    id: "node.kernel.nvme-modules",
    title: "NVMe/TCP kernel modules (nvme_core, nvme_fabrics, nvme_tcp)",
    async run(): Promise<CheckResult> {
      const facts = await kernelFacts(env);
      const family = familyOf(await osRelease(env));
      const states = await Promise.all(
        NVME_MODULES.map(async (m) => [m, await moduleState(env, facts, m)] as const),
      );
      const detail = states.map(([m, s]) => describe(m, s)).join("; ");
      let status: CheckResult["status"] = "ok";
      let fix: string | undefined;
      for (const [m, s] of states) {
        if (s.kind === "loadable") {
          status = worst(status, "warn");
          fix ??= `rds-csi runs \`modprobe nvme_tcp\` at start, which works only where the plugin sees the host's /lib/modules; ${loadModuleFix(family)}`;
        } else if (s.kind === "unavailable") {
          status = "fail";
          const next =
            s.cause === "not-built" || s.cause === "no-module-support"
              ? otherKernelFix(family, CONFIG_SYMBOL[m])
              : s.cause === "no-modules-dir"
                ? `install the modules of kernel ${env.kernelRelease} (or reboot into the kernel whose modules are installed); in a container, mount the host's /lib/modules read-only. Then: ${loadModuleFix(family)}`
                : installModuleFix(family);
          if (!fix || s.cause === "not-built" || s.cause === "no-module-support") fix = next;
        }
      }
      if (status === "ok") return ok(detail);
      if (status === "warn") return warn(detail, fix);
      return fail(`NVMe/TCP cannot work on this node: ${detail}; ${kernelSummary(env, facts)}`, fix);
    },
  };
}

/** /dev/nvme-fabrics is where `nvme connect` writes the connect string; it appears with nvme_fabrics. */
export function fabricsDeviceCheck(env: HostEnv): Check {
  const dev = join(env.devRoot, "nvme-fabrics");
  return {
    id: "node.kernel.nvme-fabrics-device",
    title: "NVMe over Fabrics control device",
    async run() {
      if (await exists(dev)) return ok(`${dev} exists`);
      const state = await moduleState(env, await kernelFacts(env), "nvme_fabrics");
      switch (state.kind) {
        case "loaded":
        case "builtin":
          return fail(
            `${dev} does not exist although nvme_fabrics is ${state.kind === "loaded" ? "loaded" : "built in"}`,
            "run the node plugin with the host's /dev mounted (hostPath /dev, privileged)",
          );
        case "loadable":
          return fail(
            `${dev} does not exist: nvme_fabrics is not loaded`,
            loadModuleFix(familyOf(await osRelease(env))),
          );
        case "unavailable":
          return fail(
            `${dev} does not exist: this kernel has no nvme_fabrics (${state.evidence})`,
            "see node.kernel.nvme-modules",
          );
      }
    },
  };
}

/** NVMe/TCP arrived in Linux 5.0; older kernels (even with backports) are a support risk. */
export function kernelVersionCheck(env: HostEnv): Check {
  return {
    id: "node.kernel.version",
    title: "Kernel version",
    async run() {
      const m = /^(\d+)\.(\d+)/.exec(env.kernelRelease);
      if (!m) return warn(`cannot read the kernel version from "${env.kernelRelease}"`);
      const [major, minor] = [Number(m[1]), Number(m[2])];
      if (major < 5)
        return fail(
          `kernel ${env.kernelRelease}: NVMe/TCP needs Linux 5.0 or newer`,
          "upgrade the kernel (5.15 or newer recommended)",
        );
      return ok(`kernel ${env.kernelRelease} (${major}.${minor})`);
    },
  };
}
