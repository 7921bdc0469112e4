// `rds-csi doctor [--node] [--controller] [--json] [--kubelet-dir DIR] [--host-root DIR] [driver flags]`
import { driverFlagTable, type FlagTable, formatFlags } from "../cli/help.ts";
import { ConfigError, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { type DoctorScope, defaultScope, runDoctor } from "./doctor.ts";
import { formatText, toJson } from "./format.ts";
import { DEFAULT_KUBELET_DIR } from "./node-kubelet.ts";
import { exitStatus } from "./runner.ts";

/** Set by the Helm chart on the node plugin from its kubeletDir value, so a doctor run inside the plugin
 * (`kubectl exec … rds-csi doctor --node`) checks the directory this cluster's kubelet really uses. */
export const KUBELET_DIR_ENV = "RDS_CSI_KUBELET_DIR";

/** The doctor's own flags, for --help (src/cli/help.ts); parseDoctorArgs below reads them. */
export const DOCTOR_FLAGS = {
  node: {
    type: "boolean",
    description: "run the node checks",
    default: "chosen from the settings, see above",
  },
  controller: {
    type: "boolean",
    description: "run the controller checks",
    default: "chosen from the settings, see above",
  },
  json: { type: "boolean", description: "one JSON document instead of one line per check", default: "off" },
  "kubelet-dir": {
    type: "string",
    arg: "DIR",
    description: "kubelet root directory (the Helm chart sets RDS_CSI_KUBELET_DIR in the node plugin)",
    default: `$${KUBELET_DIR_ENV}, else ${DEFAULT_KUBELET_DIR}`,
  },
  "host-root": {
    type: "string",
    arg: "DIR",
    description: "where the host's / is mounted when run in a container (for /etc, /lib/modules, /boot)",
    default: "/",
  },
  "check-timeout-ms": {
    type: "string",
    arg: "MS",
    description: "time limit of each check (at least 100)",
    default: "30000",
  },
} as const satisfies FlagTable;

const DOCTOR_USAGE = `usage: rds-csi doctor [--node] [--controller] [--json] [flags] [driver flags]

Checks a node (kernel modules, nvme-cli, host NQN, loop devices, filesystem tools, kubelet mount
propagation, NVMe connections) and/or the controller's view of the RDS (SSH reachability, host key,
login, RouterOS version, rose-storage, pool, volume path, free space, write permission).
Without --node/--controller: controller checks when --rds-address is set; node checks when --node-id
is set or --rds-address is not. Exit status 1 when a check failed, 2 for a configuration error.

flags:
${formatFlags(DOCTOR_FLAGS)}
driver flags (as for 'rds-csi controller|node'; the doctor checks whatever is set):
${formatFlags(driverFlagTable(), { help: false })}`;

/** The kubelet directory to check: --kubelet-dir, else $RDS_CSI_KUBELET_DIR, else /var/lib/kubelet. */
export function kubeletDirOf(args: Pick<DoctorArgs, "kubeletDir">, env: NodeJS.ProcessEnv): string {
  return args.kubeletDir ?? (env[KUBELET_DIR_ENV] || DEFAULT_KUBELET_DIR);
}

export interface DoctorArgs {
  json: boolean;
  scope: Partial<DoctorScope>;
  kubeletDir?: string;
  hostRoot?: string;
  checkTimeoutMs?: number;
  help: boolean;
  /** Everything else, for loadConfig. */
  driverArgs: string[];
}

/** Separates the doctor's own flags from the driver flags (which loadConfig validates strictly). */
export function parseDoctorArgs(argv: readonly string[]): DoctorArgs {
  const out: DoctorArgs = { json: false, scope: {}, help: false, driverArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new ConfigError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--json":
        out.json = true;
        break;
      case "--node":
        out.scope.node = true;
        break;
      case "--controller":
        out.scope.controller = true;
        break;
      case "--kubelet-dir":
        out.kubeletDir = value();
        break;
      case "--host-root":
        out.hostRoot = value();
        break;
      case "--check-timeout-ms": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 100)
          throw new ConfigError("--check-timeout-ms must be an integer of at least 100");
        out.checkTimeoutMs = n;
        break;
      }
      case "--help":
      case "-h":
        out.help = true;
        break;
      default:
        out.driverArgs.push(arg);
    }
  }
  // Only the sides named explicitly run when either is named.
  if (out.scope.node || out.scope.controller)
    out.scope = { node: Boolean(out.scope.node), controller: Boolean(out.scope.controller) };
  return out;
}

export async function runDoctorCli(argv: string[]): Promise<void> {
  let args: DoctorArgs;
  let config: Config;
  try {
    args = parseDoctorArgs(argv);
    if (args.help) {
      process.stdout.write(DOCTOR_USAGE);
      return;
    }
    config = loadConfig("all", args.driverArgs, process.env, { relaxed: true });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rds-csi doctor: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const scope = { ...defaultScope(config), ...args.scope };
  const reports = await runDoctor({
    config,
    scope,
    kubeletDir: kubeletDirOf(args, process.env),
    ...(args.hostRoot ? { env: { hostRoot: args.hostRoot } } : {}),
    ...(args.checkTimeoutMs ? { checkTimeoutMs: args.checkTimeoutMs } : {}),
  });
  process.stdout.write(args.json ? `${JSON.stringify(toJson(reports), null, 2)}\n` : formatText(reports));
  process.exitCode = exitStatus(reports);
}
