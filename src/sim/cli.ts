// `rds-csi sim`: runs the RouterOS simulator as a process (demo, manual testing, csi-sanity, benchmarks).
// Prints one `ready` line with host, port and host key fingerprint, runs until SIGINT/SIGTERM, then closes.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type FlagTable, formatFlags, parseArgsOptions } from "../cli/help.ts";
import { parseCommandLatency } from "./latency.ts";
import { PROFILE_NAMES, type ProfileName } from "./latency-profiles.ts";
import { NVMET_MODES, type NvmetMode } from "./nvmet-export.ts";
import { DEFAULT_VERSION, startSimulator } from "./simulator.ts";
import type { SimPoolSpec } from "./types.ts";

/** The simulator's flags; its parser and --help are both built from this table (src/cli/help.ts). */
export const SIM_FLAGS = {
  listen: {
    type: "string",
    arg: "HOST:PORT",
    description: "address to listen on (port 0 = any free port)",
    default: "none (required)",
  },
  data: {
    type: "string",
    arg: "DIR",
    description: "disk files (<DIR>/<file-path>), host key and state (<DIR>/.sim/)",
    default: "none (required)",
  },
  "authorized-keys": {
    type: "string",
    arg: "FILE",
    description: "OpenSSH public keys allowed to log in (any user name)",
    default: "none (required)",
  },
  "host-key": {
    type: "string",
    arg: "FILE",
    description: "host private key (ed25519, created on first start when missing)",
    default: "<DIR>/.sim/host_key",
  },
  pool: {
    type: "string",
    multiple: true,
    arg: "NAME:SIZE[:FS]",
    description: "a storage pool; SIZE in bytes or with K/M/G/T, FS xfs, btrfs or ext4",
    default: "storage-pool:100G:xfs",
  },
  "wrap-width": {
    type: "string",
    arg: "N",
    description: "print detail wrap width (0 = no wrapping)",
    default: "80",
  },
  profile: {
    type: "string",
    arg: "P",
    description:
      "latency preset: fast (none) or rds-hardware (derived from a real appliance, docs/simulator.md); the latency flags below refine it",
    default: "fast",
  },
  "latency-ms": {
    type: "string",
    arg: "N",
    description: "every command costs N ms, each one of a line (`a; b; c` costs 3 × N)",
    default: "0",
  },
  "latency-jitter-ms": {
    type: "string",
    arg: "N",
    description: "plus up to N ms at random",
    default: "0",
  },
  "command-latency": {
    type: "string",
    multiple: true,
    arg: "REGEX=MS[,JITTER]",
    description:
      "commands whose canonical text (`/disk add type=file ...`) matches REGEX cost MS (plus up to JITTER) ms; the last matching wins, over --latency-ms",
    default: "none",
  },
  "exec-latency-ms": {
    type: "string",
    arg: "N",
    description: "every SSH exec costs N ms once, however many commands its line holds",
    default: "0",
  },
  "exec-latency-jitter-ms": {
    type: "string",
    arg: "N",
    description: "plus up to N ms at random",
    default: "0",
  },
  "error-stream": {
    type: "string",
    arg: "S",
    description: "where errors go: stdout (like RouterOS: exit status 0) or stderr (exit status 1)",
    default: "stdout",
  },
  version: { type: "string", arg: "V", description: "RouterOS version to report", default: DEFAULT_VERSION },
  "fail-after": {
    type: "string",
    arg: "N",
    description: "after N commands, every command fails",
    default: "never",
  },
  "disk-full": { type: "boolean", description: "pools report no free space", default: "off" },
  hang: {
    type: "string",
    multiple: true,
    arg: "REGEX",
    description: "commands matching REGEX never answer",
    default: "none",
  },
  "drop-on": {
    type: "string",
    multiple: true,
    arg: "REGEX",
    description: "the connection drops whenever a command matches REGEX",
    default: "none",
  },
  nvmet: {
    type: "string",
    arg: "MODE",
    description: "real NVMe/TCP exports through the kernel's nvmet: off, auto or required",
    default: "off",
  },
  "nvmet-address": {
    type: "string",
    arg: "ADDR",
    description: "address the nvmet TCP ports listen on",
    default: "127.0.0.1",
  },
} as const satisfies FlagTable;

const USAGE = `usage: rds-csi sim --listen HOST:PORT --data DIR --authorized-keys FILE [flags]

flags:
${formatFlags(SIM_FLAGS)}`;

const SIZE = /^(\d+)([KMGT]?)$/;
const UNIT: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parsePoolSpec(text: string): SimPoolSpec {
  const [name, size, fs, ...rest] = text.split(":");
  const m = SIZE.exec(size ?? "");
  if (!name || !m || rest.length > 0) throw new Error(`--pool ${text}: expected NAME:SIZE[:FS]`);
  if (fs !== undefined && fs !== "xfs" && fs !== "btrfs" && fs !== "ext4") {
    throw new Error(`--pool ${text}: FS must be xfs, btrfs or ext4`);
  }
  const spec: SimPoolSpec = { name, sizeBytes: Number(m[1]) * (UNIT[m[2] ?? ""] ?? 1) };
  if (fs) spec.fs = fs;
  return spec;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`--listen ${text}: expected HOST:PORT`);
  return { host: m[1] ?? m[2] ?? "127.0.0.1", port };
}

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`--${name}: expected a non-negative integer, got ${text}`);
  return Number(text);
}

export async function runSimCli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: parseArgsOptions(SIM_FLAGS),
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!values.listen || !values.data || !values["authorized-keys"]) {
    throw new Error(`--listen, --data and --authorized-keys are required\n\n${USAGE}`);
  }
  const errorStream = values["error-stream"];
  if (errorStream !== undefined && errorStream !== "stdout" && errorStream !== "stderr") {
    throw new Error(`--error-stream must be stdout or stderr`);
  }
  const nvmet = values.nvmet;
  if (nvmet !== undefined && !NVMET_MODES.includes(nvmet as NvmetMode))
    throw new Error(`--nvmet must be one of ${NVMET_MODES.join(", ")}`);
  const profile = values.profile;
  if (profile !== undefined && !PROFILE_NAMES.includes(profile as ProfileName))
    throw new Error(`--profile must be one of ${PROFILE_NAMES.join(", ")}`);
  const commandLatencies = (values["command-latency"] ?? []).map(parseCommandLatency);
  const { host, port } = parseListen(values.listen);
  const authorizedKeys = (await readFile(values["authorized-keys"], "utf8"))
    .split("\n")
    .filter((l) => l.trim() !== "");
  const sim = await startSimulator({
    host,
    port,
    dataDir: values.data,
    authorizedKeys,
    hostKeyPath: values["host-key"],
    pools: values.pool?.map(parsePoolSpec),
    wrapWidth: int("wrap-width", values["wrap-width"]),
    errorStream,
    version: values.version,
    nvmet: nvmet as NvmetMode | undefined,
    nvmetAddress: values["nvmet-address"],
    nvmetLog: (m) => process.stderr.write(`${m}\n`),
    latencyProfile: profile as ProfileName | undefined,
  });

  const latency = int("latency-ms", values["latency-ms"]);
  if (latency !== undefined)
    sim.faults.latency(latency, { jitterMs: int("latency-jitter-ms", values["latency-jitter-ms"]) });
  for (const { match, ms, jitterMs } of commandLatencies) sim.faults.latency(ms, { match, jitterMs });
  const execLatency = int("exec-latency-ms", values["exec-latency-ms"]);
  if (execLatency !== undefined)
    sim.faults.execLatency(execLatency, {
      jitterMs: int("exec-latency-jitter-ms", values["exec-latency-jitter-ms"]),
    });
  const failAfter = int("fail-after", values["fail-after"]);
  if (failAfter !== undefined) sim.faults.failAfter(failAfter);
  if (values["disk-full"]) sim.faults.diskFull(true);
  for (const re of values.hang ?? []) sim.faults.hang(new RegExp(re));
  for (const re of values["drop-on"] ?? [])
    sim.faults.dropConnection(new RegExp(re), { times: Number.POSITIVE_INFINITY });

  process.stdout.write(
    `rds-csi sim ready host=${sim.host} port=${sim.port} fingerprint=${sim.hostKeyFingerprint}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await sim.close();
}
