// The driver's configuration, validated in one place (zod). Flags, environment variables and an
// optional JSON config file all land here; anything invalid stops the process at start with one line.
import { z } from "zod";
import { APPLIANCE_NAME_PATTERN } from "../csi/topology.ts";

export const MODES = ["controller", "node", "all"] as const;
export type Mode = (typeof MODES)[number];

const port = z.coerce.number().int().min(1).max(65535);
const boolish = z.union([
  z.boolean(),
  z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => ["true", "1", "yes"].includes(v)),
]);

/** The values alone, without the per-mode requirements: `rds-csi doctor` checks whatever it was given. */
export const baseConfigSchema = z.object({
  mode: z.enum(MODES),
  endpoint: z.string().min(1).default("unix:///csi/csi.sock"),
  driverName: z
    .string()
    .regex(
      /^[a-zA-Z][A-Za-z0-9.\-_]{0,61}[a-zA-Z]$/,
      "driver name must be a DNS-like name of at most 63 characters",
    )
    .default("rds.csi.mikrotik.com"),
  nodeId: z.string().max(128).optional(),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  drainTimeoutMs: z.coerce.number().int().min(0).default(30_000),
  metricsAddress: z.string().optional(),

  // Controller: how to reach the RDS.
  rdsAddress: z.string().optional(),
  rdsPort: port.default(22),
  rdsUser: z
    .string()
    .regex(/^[A-Za-z0-9._-]+(\+[a-z0-9]+)?$/, "SSH user must be a RouterOS user name")
    .default("rds-csi"),
  rdsKeyFile: z.string().optional(),
  rdsHostKey: z.string().optional(),
  rdsInsecureSkipHostKeyCheck: boolish.default(false),
  rdsMaxChannels: z.coerce.number().int().min(1).max(32).default(4),
  rdsCommandTimeoutMs: z.coerce.number().int().min(100).default(30_000),
  volumePath: z
    .string()
    .regex(
      /^\/?[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\/?$/,
      "volume path must be <pool>/<dir>[/...] with safe characters",
    )
    .default("storage-pool/rds-csi"),
  nqnPrefix: z
    .string()
    .regex(/^nqn\.\d{4}-\d{2}\.[a-z0-9.-]+$/, "NQN prefix must look like nqn.YYYY-MM.reverse.domain")
    .default("nqn.2026-01.com.mikrotik.rds-csi"),
  nvmeAddress: z.string().optional(),
  nvmePort: port.default(4420),
  knownNodes: z.array(z.string().min(1)).default([]),
  /** In a cluster: how often stale attachments are reconciled against VolumeAttachments; 0 = never. */
  attachmentReconcileSeconds: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Identity of this installation when several share one RDS (src/controller/context.ts). */
  instanceId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, "instance id: 1 to 128 of letters, digits and . _ : -")
    .optional(),
  /** The appliance's topology value, the same on controller and nodes (src/csi/topology.ts). */
  applianceName: z
    .string()
    .regex(APPLIANCE_NAME_PATTERN, "appliance name must be a Kubernetes label value (at most 63 characters)")
    .optional(),

  // Node.
  transport: z.enum(["nvme-tcp", "loop"]).default("nvme-tcp"),
  loopRoot: z.string().optional(),
  hostNqn: z.string().optional(),
  maxVolumesPerNode: z.coerce.number().int().min(0).default(0),
  /** Start host tools through small helper processes (src/util/exec-helper.ts); false: spawn directly. */
  execHelpers: boolish.default(true),
});

/** What each mode requires on top of valid values. */
export const configSchema = baseConfigSchema.superRefine((c, ctx) => {
  const needsController = c.mode !== "node";
  const needsNode = c.mode !== "controller";
  if (needsController && !c.rdsAddress)
    ctx.addIssue({
      code: "custom",
      path: ["rdsAddress"],
      message: "--rds-address is required for the controller",
    });
  if (needsController && !c.rdsKeyFile)
    ctx.addIssue({
      code: "custom",
      path: ["rdsKeyFile"],
      message: "--rds-key-file is required for the controller",
    });
  if (needsController && !c.rdsHostKey && !c.rdsInsecureSkipHostKeyCheck)
    ctx.addIssue({
      code: "custom",
      path: ["rdsHostKey"],
      message:
        "--rds-host-key (pinned key or SHA256 fingerprint) is required; --rds-insecure-skip-host-key-check disables pinning explicitly",
    });
  if (needsNode && !c.nodeId)
    ctx.addIssue({
      code: "custom",
      path: ["nodeId"],
      message: "--node-id is required for the node service",
    });
  if (needsNode && c.transport === "loop" && !c.loopRoot)
    ctx.addIssue({
      code: "custom",
      path: ["loopRoot"],
      message: "--loop-root is required with --transport=loop",
    });
});

export type Config = z.infer<typeof configSchema>;
