// `rds-csi attachments list|release`: the operator's view of the attachments recorded on the RDS, for a
// driver outside Kubernetes (in a cluster the controller reconciles them with VolumeAttachments itself,
// --attachment-reconcile-seconds). A lost ControllerUnpublishVolume leaves an attachment behind: the
// volume cannot be deleted and single-node publishes elsewhere are refused until it is released.
import { readFileSync } from "node:fs";
import { ConfigError, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { driverFlagTable, type FlagTable, formatFlags } from "./help.ts";

export const ATTACHMENTS_FLAGS = {
  json: { type: "boolean", description: "list: one JSON document instead of a table", default: "off" },
  volume: {
    type: "string",
    arg: "ID",
    description: "release: the volume id (its RouterOS slot)",
    default: "none",
  },
  node: {
    type: "string",
    arg: "ID",
    description: "release: the node whose attachment goes; stop whatever uses the volume there first",
    default: "none",
  },
  "all-nodes": {
    type: "boolean",
    description: "release: every attachment of the volume (instead of --node)",
    default: "off",
  },
} as const satisfies FlagTable;

const USAGE = `usage: rds-csi attachments list [--json] [driver flags]
       rds-csi attachments release --volume ID (--node ID | --all-nodes) [driver flags]

Lists the volume attachments recorded on the RDS (volume, name, node, access, generation), or releases
attachments that a lost ControllerUnpublishVolume left behind. Releasing the last attachment also turns
the export off and on again, which cuts off a node that is still connected: make sure nothing on that
node uses the volume any more. Releases are compare-and-set writes like the controller's own, so they
are safe while a controller runs. Exit status 1 when nothing matched, 2 for a usage error.

flags:
${formatFlags(ATTACHMENTS_FLAGS)}
driver flags (the RDS connection, as for 'rds-csi controller'):
${formatFlags(driverFlagTable(), { help: false })}`;

interface Args {
  action?: "list" | "release";
  json: boolean;
  volume?: string;
  node?: string;
  allNodes: boolean;
  help: boolean;
  driverArgs: string[];
}

export function parseAttachmentsArgs(argv: readonly string[]): Args {
  const out: Args = { json: false, allNodes: false, help: false, driverArgs: [] };
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
    if (i === 0 && (arg === "list" || arg === "release")) out.action = arg;
    else if (name === "--json") out.json = true;
    else if (name === "--volume") out.volume = value();
    else if (name === "--node") out.node = value();
    else if (name === "--all-nodes") out.allNodes = true;
    else if (name === "--help" || name === "-h") out.help = true;
    else out.driverArgs.push(arg);
  }
  if (out.help) return out;
  if (!out.action) throw new ConfigError("say list or release");
  if (out.action === "release") {
    if (!out.volume) throw new ConfigError("release needs --volume");
    if (Boolean(out.node) === out.allNodes)
      throw new ConfigError("release needs exactly one of --node or --all-nodes");
  }
  return out;
}

export async function runAttachmentsCli(argv: string[]): Promise<void> {
  let args: Args;
  let config: Config;
  try {
    args = parseAttachmentsArgs(argv);
    if (args.help) {
      process.stdout.write(USAGE);
      return;
    }
    config = loadConfig("controller", args.driverArgs, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rds-csi attachments: ${err.message}; see 'rds-csi attachments --help'\n`);
      process.exit(2);
    }
    throw err;
  }
  const [
    { createRdsClient },
    { ControllerContext },
    { StaticNodeRegistry },
    { listVolumes },
    { releaseAttachments },
  ] = await Promise.all([
    import("../rds/client.ts"),
    import("../controller/context.ts"),
    import("../controller/node-registry.ts"),
    import("../controller/volume-store.ts"),
    import("../controller/publish.ts"),
  ]);
  const { createLogger } = await import("../observability/logger.ts");
  // Warnings (a reconnect) go to stderr: stdout is the listing, which --json makes machine-readable.
  const { default: pino } = await import("pino");
  const log = createLogger({ level: "warn", destination: pino.destination(2) });
  const rds = createRdsClient(
    {
      host: config.rdsAddress!,
      port: config.rdsPort,
      user: config.rdsUser,
      privateKey: readFileSync(config.rdsKeyFile!),
      hostKey: config.rdsHostKey,
      insecureSkipHostKeyCheck: config.rdsInsecureSkipHostKeyCheck,
      commandTimeoutMs: config.rdsCommandTimeoutMs,
    },
    log,
  );
  const c = new ControllerContext({
    rds,
    log,
    nodes: new StaticNodeRegistry([]),
    driverName: config.driverName,
    volumePath: config.volumePath,
    nqnPrefix: config.nqnPrefix,
    nvmeAddress: config.nvmeAddress ?? config.rdsAddress!,
    nvmePort: config.nvmePort,
    ...(config.instanceId ? { instanceId: config.instanceId } : {}),
  });
  try {
    if (args.action === "list") {
      const rows = (await listVolumes(c)).flatMap((v) =>
        v.record.attachments.map((a) => ({
          volume: v.disk.slot,
          name: v.record.name,
          node: a.node,
          access: `${a.mode === "multi" ? "multi-node" : "single-node"} ${a.readonly ? "read-only" : "read-write"}`,
          generation: a.generation,
          otherInstance: Boolean(v.record.instance && v.record.instance !== c.instance),
        })),
      );
      if (args.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else process.stdout.write(table(rows));
      return;
    }
    const released = await releaseAttachments(c, args.volume!, args.node ? { node: args.node } : {});
    if (released.length === 0) {
      process.stderr.write(
        `rds-csi attachments: volume ${args.volume} has no attachment${args.node ? ` to node ${args.node}` : ""}\n`,
      );
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`released ${args.volume} from ${released.join(", ")}\n`);
  } finally {
    await rds.close();
  }
}

function table(rows: Array<Record<string, string | number | boolean>>): string {
  if (rows.length === 0) return "no attachments recorded\n";
  const cols = ["volume", "node", "access", "generation", "name"] as const;
  const width = (k: string) => Math.max(k.length, ...rows.map((r) => String(r[k]).length));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => c.padEnd(width(cols[i]!)))
      .join("  ")
      .trimEnd()}\n`;
  return (
    line(cols.map((c) => c.toUpperCase())) +
    rows
      .map((r) =>
        line(cols.map((c) => String(r[c]) + (c === "name" && r.otherInstance ? " (other instance)" : ""))),
      )
      .join("")
  );
}
