// `/system resource`, `/system package`, `/system identity`: what the driver reads to check the appliance
// (RouterOS version, board, rose-storage installed).
import { argText } from "../args.ts";
import type { CommandDef, ExecContext, MenuNode } from "../commands.ts";
import { menuNode } from "../commands.ts";
import { noMatchingValue } from "../errors.ts";
import { cellText, type Item, type Prop, scriptValue, toRecordValue } from "../items.ts";
import { findCommand, getCommand, type ListSource, printCommand } from "../list-menu.ts";
import { renderSingleton } from "../render.ts";

const GiB = 2 ** 30;
const startedAt = Date.now();

/** `1w2d3h4m5s` style uptime. */
function uptime(ms: number): string {
  let s = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ["w", 604800],
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.join("");
}

const w = (key: string, value: string): Prop => ({ key, kind: "word", value });

function resourceProps(ctx: ExecContext): Prop[] {
  const s = ctx.services;
  return [
    w("uptime", uptime(Date.now() - startedAt)),
    w("version", `${s.version} (stable)`),
    w("build-time", "2026-09-01 10:00:00"),
    w("factory-software", "7.20"),
    { key: "free-memory", kind: "size", value: 28 * GiB + 123_456_789 },
    { key: "total-memory", kind: "size", value: 32 * GiB },
    w("cpu", "ARM64"),
    { key: "cpu-count", kind: "int", value: 16 },
    w("cpu-frequency", "2000MHz"),
    { key: "cpu-load", kind: "percent", value: 1 },
    { key: "free-hdd-space", kind: "size", value: 98 * 2 ** 20 },
    { key: "total-hdd-space", kind: "size", value: 128 * 2 ** 20 },
    w("architecture-name", "arm64"),
    w("board-name", s.boardName),
    w("platform", "MikroTik"),
  ];
}

/** A menu with one record, printed as right-aligned `key: value` lines. */
function singletonMenu(
  name: string,
  props: (ctx: ExecContext) => Prop[],
  extra: Record<string, CommandDef> = {},
): MenuNode {
  const print: CommandDef = {
    args: { "as-value": "flag", detail: "flag", "without-paging": "flag" },
    async run(ctx, call) {
      const list = props(ctx);
      if (call.flags.has("as-value")) {
        const rec = toRecordValue({ id: "", number: 0, flags: "", props: list });
        return rec.t === "map" ? { t: "map", v: rec.v.filter(([k]) => k !== ".id") } : rec;
      }
      ctx.print(renderSingleton(list.map((p) => ({ key: p.key, text: cellText(p) }))));
      return { t: "nil" };
    },
  };
  const get: CommandDef = {
    args: {},
    positionals: ["value-name"],
    async run(ctx, call) {
      const key = argText(call, "value-name");
      const p = props(ctx).find((x) => x.key === key);
      if (!p) throw noMatchingValue("value-name");
      return scriptValue(p);
    },
  };
  return menuNode(name, { print, get, ...extra }, [], []);
}

function packageSource(): ListSource {
  return {
    flagDefs: [{ letter: "X", name: "disabled", group: 0 }],
    columns: [
      { title: "NAME", key: "name" },
      { title: "VERSION", key: "version" },
      { title: "BUILD-TIME", key: "build-time" },
      { title: "SIZE", key: "size", align: "right" },
    ],
    nameKey: "name",
    async items(ctx): Promise<Item[]> {
      return ctx.services.packages.map((name, i) => ({
        id: `*${(i + 1).toString(16).toUpperCase()}`,
        number: i,
        flags: "",
        props: [
          w("name", name),
          w("version", ctx.services.version),
          w("build-time", "2026-09-01 10:00:00"),
          { key: "size", kind: "size", value: name === "routeros" ? 13_002_342 : 3_145_728 + i * 4096 },
          { key: "disabled", kind: "bool", value: false, hidden: true },
        ],
      }));
    },
  };
}

export function systemMenu(): MenuNode {
  const pkg = packageSource();
  let identity = "RDS";
  const identityMenu = singletonMenu("identity", () => [w("name", identity)], {
    set: {
      args: { name: "value" },
      async run(_ctx, call) {
        identity = argText(call, "name") ?? identity;
        return { t: "nil" };
      },
    },
  });
  return menuNode("system", {}, [
    singletonMenu("resource", resourceProps),
    menuNode(
      "package",
      { print: printCommand(pkg), find: findCommand(pkg), get: getCommand(pkg) },
      [],
      [".id", "name", "version", "build-time", "size", "disabled"],
    ),
    identityMenu,
  ]);
}
