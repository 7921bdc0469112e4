// `rds-csi <command> --help` describes every flag the command accepts: a description, its default and its
// environment variable (or that it has none). Runs the real executable; the accepted flags come from the
// tables the commands' parsers are built from, so a flag added to a parser but not to the help fails here.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ATTACHMENTS_FLAGS } from "../../src/cli/attachments.ts";
import { DEMO_FLAGS } from "../../src/cli/demo.ts";
import type { FlagTable } from "../../src/cli/help.ts";
import { FLAGS } from "../../src/config/load.ts";
import { DOCTOR_FLAGS } from "../../src/doctor/cli.ts";
import { SIM_FLAGS } from "../../src/sim/cli.ts";

const BIN = resolve(import.meta.dirname, "../../bin/rds-csi");

interface HelpEntry {
  flag: string;
  description: string[];
  defaultText?: string;
  env?: string | null;
}

/** Splits help text into flag entries: a `  --flag [ARG]` line, then lines indented by six spaces. */
function parseHelp(text: string): HelpEntry[] {
  const entries: HelpEntry[] = [];
  let current: HelpEntry | undefined;
  for (const line of text.split("\n")) {
    const head = /^ {2}--([a-z0-9-]+)(?: \S+)?$/.exec(line);
    if (head) {
      current = { flag: head[1]!, description: [] };
      entries.push(current);
      continue;
    }
    if (!current || !line.startsWith("      ")) {
      current = undefined;
      continue;
    }
    const body = line.trim();
    const dflt = /^default: (.+); (?:environment: (RDS_CSI_[A-Z0-9_]+)|(no environment variable))$/.exec(
      body,
    );
    if (dflt) {
      current.defaultText = dflt[1]!;
      current.env = dflt[2] ?? null;
    } else current.description.push(body);
  }
  return entries;
}

const envOf = (flag: string) => `RDS_CSI_${flag.toUpperCase().replaceAll("-", "_")}`;
const driverFlags = [...Object.keys(FLAGS), "config"];

/** The variable a flag's help must name: RDS_CSI_<FLAG> for driver flags, else what the command's table declares. */
const envFrom =
  (table: FlagTable, opts: { driverFlags: boolean }) =>
  (flag: string): string | null =>
    opts.driverFlags && driverFlags.includes(flag) ? envOf(flag) : (table[flag]?.env ?? null);

const COMMANDS: { command: string; flags: string[]; env: (flag: string) => string | null }[] = [
  ...["controller", "node", "all"].map((command) => ({
    command,
    flags: [...driverFlags, "help"],
    env: envFrom({}, { driverFlags: true }),
  })),
  {
    command: "doctor",
    flags: [...Object.keys(DOCTOR_FLAGS), ...driverFlags, "help"],
    env: envFrom(DOCTOR_FLAGS, { driverFlags: true }),
  },
  {
    command: "attachments",
    flags: [...Object.keys(ATTACHMENTS_FLAGS), ...driverFlags, "help"],
    env: envFrom(ATTACHMENTS_FLAGS, { driverFlags: true }),
  },
  {
    command: "sim",
    flags: [...Object.keys(SIM_FLAGS), "help"],
    env: envFrom(SIM_FLAGS, { driverFlags: false }),
  },
  {
    command: "demo",
    flags: [...Object.keys(DEMO_FLAGS), "help"],
    env: envFrom(DEMO_FLAGS, { driverFlags: false }),
  },
  { command: "version", flags: ["help"], env: envFrom({}, { driverFlags: false }) },
];

describe("rds-csi <command> --help", () => {
  for (const { command, flags, env } of COMMANDS) {
    it(`${command}: describes every flag with its default and environment variable`, () => {
      const r = spawnSync(BIN, [command, "--help"], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const entries = parseHelp(r.stdout);
      expect(entries.map((e) => e.flag).sort()).toEqual([...new Set(flags)].sort());
      for (const e of entries) {
        const where = `${command} --${e.flag}`;
        expect(e.description.join(" "), `${where}: description`).toMatch(/\w{3}/);
        expect(e.defaultText, `${where}: default line`).toBeDefined();
        expect(e.env, `${where}: environment`).toBe(env(e.flag));
        for (const l of e.description) expect(l.length, `${where}: line length`).toBeLessThanOrEqual(100);
      }
    });
  }

  it("covers every command that `rds-csi --help` lists", () => {
    const r = spawnSync(BIN, ["--help"], { encoding: "utf8" });
    const listed = [...r.stdout.split("commands:")[1]!.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
    expect(listed.length).toBeGreaterThan(5);
    expect(listed.sort()).toEqual(COMMANDS.map((c) => c.command).sort());
  });

  it("an unknown flag is one line naming it, exit status 2, for every command that takes flags", () => {
    for (const args of [
      ["controller"],
      ["node"],
      ["all"],
      ["doctor"],
      ["attachments", "list"],
      ["sim"],
      ["demo"],
    ]) {
      const command = args.join(" ");
      const r = spawnSync(BIN, [...args, "--no-such-flag"], { encoding: "utf8" });
      expect(r.status, command).toBe(2);
      expect(r.stderr.trim().split("\n"), command).toHaveLength(1);
      expect(r.stderr, command).toMatch(/--no-such-flag/);
    }
  });

  it("the default shown for each driver flag is the value the driver uses", async () => {
    const { loadConfig } = await import("../../src/config/load.ts");
    const defaults = loadConfig("all", [], {}, { relaxed: true }) as Record<string, unknown>;
    const r = spawnSync(BIN, ["node", "--help"], { encoding: "utf8" });
    const shown = new Map(parseHelp(r.stdout).map((e) => [e.flag, e.defaultText]));
    for (const [flag, key] of Object.entries(FLAGS)) {
      const value = defaults[key];
      if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
      expect(shown.get(flag)?.split(" ")[0], `--${flag}`).toBe(String(value));
    }
  });
});

describe("docs/configuration.md", () => {
  it("lists every driver flag", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/configuration.md"), "utf8");
    for (const flag of Object.keys(FLAGS)) expect(doc, `--${flag}`).toContain(`| \`--${flag}\` |`);
  });
});
