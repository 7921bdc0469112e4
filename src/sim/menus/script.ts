// Scripting commands (`:put`, `:len`, `:serialize`, `:do`, `:onerror`, `:local`, `:global`, `:nothing`):
// enough for the sentinel and counting idioms of docs/routeros.md §1.8 and §2.4.
import { argText } from "../args.ts";
import type { CommandDef } from "../commands.ts";
import { CliError, failure, noMatchingValue } from "../errors.ts";
import { CRLF } from "../render.ts";
import { bool, lengthOf, NIL, num, str, toJson, toText } from "../values.ts";

const put: CommandDef = {
  args: {},
  positionals: ["message"],
  async run(ctx, call) {
    const v = call.named.get("message")?.value ?? NIL;
    ctx.print(toText(v) + CRLF);
    return NIL;
  },
};

const len: CommandDef = {
  args: {},
  positionals: ["value"],
  async run(_ctx, call) {
    return num(lengthOf(call.named.get("value")?.value ?? NIL));
  },
};

/** `:serialize to=json <value>` (7.13+); the JSON shape is the simulator's guess (§1.6d, §10 q1). */
const serialize: CommandDef = {
  args: { to: "value", options: "value" },
  positionals: ["value"],
  async run(_ctx, call) {
    const to = argText(call, "to");
    if (to === undefined) throw failure("to must be specified");
    if (to !== "json") throw noMatchingValue("to");
    return str(JSON.stringify(toJson(call.named.get("value")?.value ?? NIL)));
  },
};

/** `:do { ... } on-error={ ... }`: a runtime error in the block runs on-error instead of stopping. */
const doCommand: CommandDef = {
  args: { "on-error": "value" },
  positionals: ["command"],
  async run(ctx, call) {
    const body = call.blocks.get("command");
    if (!body) throw failure("command must be a block");
    const onError = call.blocks.get("on-error");
    try {
      await ctx.runBlock(body);
    } catch (err) {
      if (!(err instanceof CliError) || err.parse || !(onError || call.named.has("on-error"))) throw err;
      if (onError) await ctx.runBlock(onError);
    }
    return NIL;
  },
};

/** `:onerror e in={ ... } do={ ... }` (7.13+): `$e` holds the message; returns true when an error happened. */
const onerror: CommandDef = {
  args: { in: "value", do: "value" },
  positionals: ["variable"],
  async run(ctx, call) {
    const name = argText(call, "variable") ?? "";
    const body = call.blocks.get("in");
    if (!body) throw failure("in must be a block");
    try {
      await ctx.runBlock(body);
      return bool(false);
    } catch (err) {
      if (!(err instanceof CliError) || err.parse) throw err;
      ctx.vars.set(name, str(err.message));
      const handler = call.blocks.get("do");
      if (handler) await ctx.runBlock(handler);
      return bool(true);
    }
  },
};

const variable: CommandDef = {
  args: {},
  positionals: ["name", "value"],
  async run(ctx, call) {
    const name = argText(call, "name");
    if (name) ctx.vars.set(name, call.named.get("value")?.value ?? NIL);
    return NIL;
  },
};

const nothing: CommandDef = { args: {}, run: async () => NIL };

export function scriptCommands(): Map<string, CommandDef> {
  return new Map<string, CommandDef>([
    ["put", put],
    ["len", len],
    ["serialize", serialize],
    ["do", doCommand],
    ["onerror", onerror],
    ["local", variable],
    ["global", variable],
    ["nothing", nothing],
  ]);
}
