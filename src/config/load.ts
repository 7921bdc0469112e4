// Builds the configuration from (lowest to highest precedence) defaults, a JSON config file
// (--config or RDS_CSI_CONFIG), RDS_CSI_* environment variables and command-line flags.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Config, isIssue, type Mode, parseBaseConfig, parseConfig } from "./schema.ts";

/** Flag name (kebab-case) → config key. Every flag can also be set as RDS_CSI_<FLAG_IN_UPPER_SNAKE>. */
export const FLAGS = {
  endpoint: "endpoint",
  "driver-name": "driverName",
  "node-id": "nodeId",
  "log-level": "logLevel",
  "drain-timeout-ms": "drainTimeoutMs",
  "metrics-address": "metricsAddress",
  "rds-address": "rdsAddress",
  "rds-port": "rdsPort",
  "rds-user": "rdsUser",
  "rds-key-file": "rdsKeyFile",
  "rds-host-key": "rdsHostKey",
  "rds-insecure-skip-host-key-check": "rdsInsecureSkipHostKeyCheck",
  "rds-max-channels": "rdsMaxChannels",
  "rds-command-timeout-ms": "rdsCommandTimeoutMs",
  "volume-path": "volumePath",
  "nqn-prefix": "nqnPrefix",
  "nvme-address": "nvmeAddress",
  "nvme-port": "nvmePort",
  "known-nodes": "knownNodes",
  "instance-id": "instanceId",
  "appliance-name": "applianceName",
  "attachment-reconcile-seconds": "attachmentReconcileSeconds",
  transport: "transport",
  "loop-root": "loopRoot",
  "host-nqn": "hostNqn",
  "max-volumes-per-node": "maxVolumesPerNode",
  "exec-helpers": "execHelpers",
} as const satisfies Record<string, keyof Config>;

/** Switches: given without a value. */
export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(["rds-insecure-skip-host-key-check"]);
const LIST_KEYS = new Set<string>(["knownNodes"]);

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The environment variable of a flag: `--rds-address` → `RDS_CSI_RDS_ADDRESS`. */
export const envName = (flag: string): string => `RDS_CSI_${flag.toUpperCase().replaceAll("-", "_")}`;

export function loadConfig(
  mode: Mode,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  opts: { relaxed?: boolean } = {},
): Config {
  const options: Record<string, { type: "string" | "boolean" }> = { config: { type: "string" } };
  for (const flag of Object.keys(FLAGS))
    options[flag] = { type: BOOLEAN_FLAGS.has(flag) ? "boolean" : "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }

  const raw: Record<string, unknown> = { mode };
  const configFile = (values.config as string | undefined) ?? env.RDS_CSI_CONFIG;
  if (configFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(configFile, "utf8"));
    } catch (err) {
      throw new ConfigError(`config file ${configFile}: ${(err as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new ConfigError(`config file ${configFile}: expected a JSON object`);
    const known = new Set<string>(Object.values(FLAGS));
    for (const [k, v] of Object.entries(parsed)) {
      if (!known.has(k)) throw new ConfigError(`config file ${configFile}: unknown key "${k}"`);
      raw[k] = v;
    }
  }
  for (const [flag, key] of Object.entries(FLAGS)) {
    const fromEnv = env[envName(flag)];
    if (fromEnv !== undefined && fromEnv !== "") raw[key] = fromEnv;
    const fromFlag = values[flag];
    if (fromFlag !== undefined) raw[key] = fromFlag;
    if (LIST_KEYS.has(key) && typeof raw[key] === "string")
      raw[key] = (raw[key] as string)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
  }

  // relaxed: validate values but not the per-mode requirements (for `rds-csi doctor`).
  const result = (opts.relaxed ? parseBaseConfig : parseConfig)(raw);
  if (isIssue(result)) {
    const flag = Object.entries(FLAGS).find(([, k]) => k === result.key)?.[0];
    throw new ConfigError(`invalid configuration: ${flag ? `--${flag}: ` : ""}${result.message}`);
  }
  return result;
}
