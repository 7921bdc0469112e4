// One table per command describes its flags; the command's argument parser and its --help are both built
// from that table, so a flag cannot be accepted without being documented (test/cli/help.test.ts checks
// the output of every command).
import { driverFlagDocs } from "../config/flags.ts";
import { envName } from "../config/load.ts";

export interface FlagSpec {
  /** `string` takes a value; `boolean` is a switch. */
  type: "string" | "boolean";
  /** May be given more than once. */
  multiple?: boolean;
  /** Placeholder for the value in the help, e.g. `FILE`. */
  arg?: string;
  /** One line, said as what the flag does. */
  description: string;
  /** What applies when the flag is not given, as shown in the help. */
  default: string;
  /** The environment variable that sets it too; none when absent. */
  env?: string;
}

export type FlagTable = Record<string, FlagSpec>;

const HELP: FlagSpec = { type: "boolean", description: "print this help and exit", default: "off" };

/** parseArgs options of a table, typed per flag so the parsed values keep their types. */
export type ParseArgsOptionsOf<T extends FlagTable> = {
  [K in keyof T]: T[K] extends { multiple: true }
    ? { type: T[K]["type"]; multiple: true }
    : { type: T[K]["type"] };
} & { help: { type: "boolean"; short: "h" } };

/** The options for node:util parseArgs, --help included. */
export function parseArgsOptions<T extends FlagTable>(table: T): ParseArgsOptionsOf<T> {
  const options: Record<string, { type: "string" | "boolean"; multiple?: true; short?: string }> = {};
  for (const [name, spec] of Object.entries(table))
    options[name] = spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type };
  options.help = { type: "boolean", short: "h" };
  return options as ParseArgsOptionsOf<T>;
}

const INDENT = "      ";
const WIDTH = 100;

function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && INDENT.length + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => INDENT + l);
}

/**
 * Each flag as three or more lines:
 *   --name ARG
 *       description
 *       default: X; environment: RDS_CSI_NAME   (or: no environment variable)
 */
export function formatFlags(table: FlagTable, opts: { help?: boolean } = {}): string {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(opts.help === false ? table : { ...table, help: HELP })) {
    out.push(`  --${name}${spec.arg ? ` ${spec.arg}` : ""}`);
    out.push(...wrap(spec.description + (spec.multiple ? " (repeatable)" : "")));
    out.push(
      `${INDENT}default: ${spec.default}; ${spec.env ? `environment: ${spec.env}` : "no environment variable"}`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** The flags of `rds-csi controller|node|all` (and of the doctor, which takes them too). */
export function driverFlagTable(): FlagTable {
  const table: FlagTable = {
    config: {
      type: "string",
      arg: "FILE",
      description:
        "JSON file of settings, keyed by the camelCase names of the flags below (e.g. rdsAddress); flags and environment variables override it",
      default: "none",
      env: "RDS_CSI_CONFIG",
    },
  };
  for (const [flag, doc] of Object.entries(driverFlagDocs())) {
    table[flag] = { ...doc, env: envName(flag) };
  }
  return table;
}
