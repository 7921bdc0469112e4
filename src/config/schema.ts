// The driver's configuration, validated in one place. Flags, environment variables and an optional JSON
// config file all land here; anything invalid stops the process at start with one line.
//
// Plain code, not a schema library: the node plugin runs on every node, and zod alone cost it about 5 MiB
// of resident memory (issue 15). Each field is a small parser (fields.ts) that takes the value as given
// (text from a flag or the environment, or a JSON value from the file), refuses it with a message, or
// returns the typed value; a field with a default gets it when the value is absent.
import { APPLIANCE_NAME_PATTERN } from "../csi/topology.ts";
import { boolish, type Field, int, list, oneOf, optional, text, withDefault } from "./fields.ts";

export const MODES = ["controller", "node", "all"] as const;
export type Mode = (typeof MODES)[number];

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
const TRANSPORTS = ["nvme-tcp", "loop"] as const;

const port = int({ min: 1, max: 65535 });

/** The values alone, without the per-mode requirements: `rds-csi doctor` checks whatever it was given. */
export const CONFIG_FIELDS = {
  mode: oneOf(MODES),
  endpoint: withDefault(text({ min: 1 }), "unix:///csi/csi.sock"),
  driverName: withDefault(
    text({
      pattern: /^[a-zA-Z][A-Za-z0-9.\-_]{0,61}[a-zA-Z]$/,
      message: "driver name must be a DNS-like name of at most 63 characters",
    }),
    "rds.csi.mikrotik.com",
  ),
  nodeId: optional(text({ max: 128 })),
  logLevel: withDefault(oneOf(LOG_LEVELS), "info"),
  drainTimeoutMs: withDefault(int({ min: 0 }), 30_000),
  metricsAddress: optional(text()),

  // Controller: how to reach the RDS.
  rdsAddress: optional(text()),
  rdsPort: withDefault(port, 22),
  rdsUser: withDefault(
    text({
      pattern: /^[A-Za-z0-9._-]+(\+[a-z0-9]+)?$/,
      message: "SSH user must be a RouterOS user name",
    }),
    "rds-csi",
  ),
  rdsKeyFile: optional(text()),
  rdsHostKey: optional(text()),
  rdsInsecureSkipHostKeyCheck: withDefault(boolish, false),
  rdsMaxChannels: withDefault(int({ min: 1, max: 32 }), 4),
  rdsCommandTimeoutMs: withDefault(int({ min: 100 }), 30_000),
  volumePath: withDefault(
    text({
      pattern: /^\/?[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\/?$/,
      message: "volume path must be <pool>/<dir>[/...] with safe characters",
    }),
    "storage-pool/rds-csi",
  ),
  nqnPrefix: withDefault(
    text({
      pattern: /^nqn\.\d{4}-\d{2}\.[a-z0-9.-]+$/,
      message: "NQN prefix must look like nqn.YYYY-MM.reverse.domain",
    }),
    "nqn.2026-01.com.mikrotik.rds-csi",
  ),
  nvmeAddress: optional(text()),
  nvmePort: withDefault(port, 4420),
  knownNodes: withDefault(list(text({ min: 1 })), [] as string[]),
  /** In a cluster: how often stale attachments are reconciled against VolumeAttachments; 0 = never. */
  attachmentReconcileSeconds: withDefault(int({ min: 0, max: 86_400 }), 300),
  /** Identity of this installation when several share one RDS (src/controller/context.ts). */
  instanceId: optional(
    text({
      pattern: /^[A-Za-z0-9._:-]{1,128}$/,
      message: "instance id: 1 to 128 of letters, digits and . _ : -",
    }),
  ),
  /** The appliance's topology value, the same on controller and nodes (src/csi/topology.ts). */
  applianceName: optional(
    text({
      pattern: APPLIANCE_NAME_PATTERN,
      message: "appliance name must be a Kubernetes label value (at most 63 characters)",
    }),
  ),

  // Node.
  transport: withDefault(oneOf(TRANSPORTS), "nvme-tcp"),
  loopRoot: optional(text()),
  hostNqn: optional(text()),
  maxVolumesPerNode: withDefault(int({ min: 0 }), 0),
  /** Start host tools through small helper processes (src/util/exec-helper.ts); false: spawn directly. */
  execHelpers: withDefault(boolish, true),
} satisfies Record<string, Field<unknown>>;

type Fields = typeof CONFIG_FIELDS;
type Value<F> = F extends Field<infer T> ? T : never;
type OptionalKeys = { [K in keyof Fields]: undefined extends Value<Fields[K]> ? K : never }[keyof Fields];

/** The validated configuration: fields with a default are always set, the others may be absent. */
export type Config = { [K in Exclude<keyof Fields, OptionalKeys>]: Value<Fields[K]> } & {
  [K in OptionalKeys]?: Exclude<Value<Fields[K]>, undefined>;
};

export interface ConfigIssue {
  /** The config key the issue is about. */
  key: string;
  message: string;
}

/** The configuration, or the first value that is refused (in the order of CONFIG_FIELDS). */
export function parseBaseConfig(raw: Record<string, unknown>): Config | ConfigIssue {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(CONFIG_FIELDS) as Array<[string, Field<unknown>]>) {
    const r = field.parse(raw[key]);
    if (!r.ok) return { key, message: r.message };
    if (r.value !== undefined) out[key] = r.value;
  }
  return out as Config;
}

/** As parseBaseConfig, then what each mode requires on top of valid values. */
export function parseConfig(raw: Record<string, unknown>): Config | ConfigIssue {
  const c = parseBaseConfig(raw);
  if (isIssue(c)) return c;
  const needsController = c.mode !== "node";
  const needsNode = c.mode !== "controller";
  if (needsController && !c.rdsAddress)
    return { key: "rdsAddress", message: "--rds-address is required for the controller" };
  if (needsController && !c.rdsKeyFile)
    return { key: "rdsKeyFile", message: "--rds-key-file is required for the controller" };
  if (needsController && !c.rdsHostKey && !c.rdsInsecureSkipHostKeyCheck)
    return {
      key: "rdsHostKey",
      message:
        "--rds-host-key (pinned key or SHA256 fingerprint) is required; --rds-insecure-skip-host-key-check disables pinning explicitly",
    };
  if (needsNode && !c.nodeId) return { key: "nodeId", message: "--node-id is required for the node service" };
  if (needsNode && c.transport === "loop" && !c.loopRoot)
    return { key: "loopRoot", message: "--loop-root is required with --transport=loop" };
  return c;
}

export const isIssue = (c: Config | ConfigIssue): c is ConfigIssue => "message" in c && "key" in c;

/** The default of a key, undefined when it has none. */
export function defaultOf(key: keyof Config): unknown {
  const r = (CONFIG_FIELDS[key] as Field<unknown>).parse(undefined);
  return r.ok ? r.value : undefined;
}
