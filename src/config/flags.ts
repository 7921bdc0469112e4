// What each driver flag means, for `--help` (src/cli/help.ts) and docs/configuration.md. Keyed by the
// flag names of FLAGS, and typed so that a flag added there without an entry here does not compile.
// Defaults are not written here: they are read from the schema, so the help cannot drift from them.
import { BOOLEAN_FLAGS, FLAGS } from "./load.ts";
import { defaultOf } from "./schema.ts";

type DriverFlag = keyof typeof FLAGS;

interface FlagDoc {
  /** Placeholder for the value; none for a switch. */
  arg?: string;
  description: string;
  /** Shown as the default when the schema has none (what not setting the flag means). */
  unset?: string;
  /** Added in parentheses after a schema default. */
  note?: string;
}

export const FLAG_DOCS = {
  endpoint: {
    arg: "URL",
    description: "where the CSI gRPC server listens: unix:///abs/path or tcp://host:port",
  },
  "driver-name": { arg: "NAME", description: "CSI driver name reported by GetPluginInfo" },
  "node-id": {
    arg: "ID",
    description: "this node's id; the host NQN is derived from it unless --host-nqn is set",
    unset: "none (required for node and all)",
  },
  "log-level": {
    arg: "LEVEL",
    description: "log level: trace, debug, info, warn, error, fatal or silent",
  },
  "drain-timeout-ms": {
    arg: "MS",
    description: "on SIGTERM, how long calls in flight may run before they are cancelled",
  },
  "metrics-address": {
    arg: "[HOST]:PORT",
    description: "serve Prometheus /metrics and /healthz on this address",
    unset: "off",
  },
  "rds-address": {
    arg: "HOST",
    description: "management address of the RDS, reached over SSH by the controller",
    unset: "none (required for controller and all)",
  },
  "rds-port": { arg: "PORT", description: "SSH port of the RDS" },
  "rds-user": {
    arg: "USER",
    description: "RouterOS user to log in as (+ct is appended: no colours, no terminal detection)",
  },
  "rds-key-file": {
    arg: "FILE",
    description: "SSH private key for that user (ed25519 or RSA, OpenSSH or PEM format)",
    unset: "none (required for controller and all)",
  },
  "rds-host-key": {
    arg: "KEY",
    description: "the RDS's pinned SSH host key: an OpenSSH public key line or a SHA256:<base64> fingerprint",
    unset: "none (required unless --rds-insecure-skip-host-key-check)",
  },
  "rds-insecure-skip-host-key-check": {
    description: "accept any SSH host key instead of the pinned one (logged as a security warning)",
  },
  "rds-max-channels": {
    arg: "N",
    description: "how many RouterOS commands may run at once over the one SSH connection (1-32)",
  },
  "rds-command-timeout-ms": {
    arg: "MS",
    description: "time limit of one RouterOS command; its SSH channel is closed when it runs over",
  },
  "volume-path": {
    arg: "POOL/DIR",
    description: "where volume files live on the RDS; the first component is the storage pool",
  },
  "nqn-prefix": {
    arg: "NQN",
    description: "NVMe subsystem NQN prefix of exports, <prefix>:<volume id> (RouterOS 7.21+)",
  },
  "nvme-address": {
    arg: "HOST",
    description: "NVMe/TCP address handed to nodes, e.g. on a storage VLAN",
    unset: "the --rds-address",
  },
  "nvme-port": { arg: "PORT", description: "NVMe/TCP port of the exports" },
  "attachment-reconcile-seconds": {
    arg: "S",
    description:
      "in a cluster: how often the controller releases volume attachments that no VolumeAttachment backs any more (after two passes), with an Event; 0 turns it off. Needs RBAC list on volumeattachments.storage.k8s.io",
  },
  "instance-id": {
    arg: "ID",
    description:
      "identity of this installation, for clusters sharing one RDS: part of hashed volume slots and of each record; a volume recorded by another instance is never adopted",
    unset: "the driver name and --volume-path",
  },
  "appliance-name": {
    arg: "NAME",
    description:
      "name of the RDS this installation uses, the same on controller and nodes: nodes report the topology segment <driver name>/appliance=NAME, so capacity is tracked per appliance (Kubernetes label value)",
    unset: "no topology (no per-appliance capacity objects)",
  },
  "known-nodes": {
    arg: "ID,...",
    description: "comma-separated node ids, for a controller that runs outside Kubernetes",
    unset: "none",
  },
  transport: {
    arg: "KIND",
    description: "how the node attaches volumes: nvme-tcp, or loop for a simulator on the same machine",
  },
  "loop-root": {
    arg: "DIR",
    description: "with --transport=loop: the local directory holding the RDS files (the simulator's data)",
    unset: "none (required with --transport=loop)",
  },
  "host-nqn": { arg: "NQN", description: "this node's NVMe host NQN", unset: "derived from --node-id" },
  "max-volumes-per-node": {
    arg: "N",
    description: "volume limit reported in NodeGetInfo",
    note: "unlimited",
  },
  "exec-helpers": {
    arg: "BOOL",
    description:
      "node: run host tools (mount, mkfs, nvme) through small long-lived helpers; false forks each directly (slower)",
  },
} as const satisfies Record<DriverFlag, FlagDoc>;

/** The schema's default for a flag, as text; undefined when it has none. */
function schemaDefault(flag: DriverFlag): string | undefined {
  const value = defaultOf(FLAGS[flag]);
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  return String(value);
}

/** Each driver flag with its kind, description and default. */
export function driverFlagDocs(): Record<
  DriverFlag,
  { type: "string" | "boolean"; arg?: string; description: string; default: string }
> {
  const out = {} as ReturnType<typeof driverFlagDocs>;
  for (const [flag, doc] of Object.entries(FLAG_DOCS) as [DriverFlag, FlagDoc][]) {
    const fromSchema = schemaDefault(flag);
    const shown =
      fromSchema === undefined ? (doc.unset ?? "none") : `${fromSchema}${doc.note ? ` (${doc.note})` : ""}`;
    out[flag] = {
      type: BOOLEAN_FLAGS.has(flag) ? "boolean" : "string",
      ...(doc.arg ? { arg: doc.arg } : {}),
      description: doc.description,
      default: shown,
    };
  }
  return out;
}
