// Runs one command line: parse everything first (a parse error runs nothing), then run the commands in
// order, stopping at the first runtime error like RouterOS (§2.2); output before the error is kept.
import type { Statement, ValueNode } from "./ast.ts";
import type { Call, ExecContext, MenuNode, SimServices } from "./commands.ts";
import { menuNode } from "./commands.ts";
import { CliError } from "./errors.ts";
import { diskMenu } from "./menus/disk.ts";
import { fileMenu } from "./menus/file.ts";
import { scriptCommands } from "./menus/script.ts";
import { installSnapshotCommands } from "./menus/snapshots.ts";
import { systemMenu } from "./menus/system.ts";
import { type Grammar, parseLine } from "./parser.ts";
import { indexValue, NIL, str, toText, type Value } from "./values.ts";

export interface LineResult {
  /** Console output before any error (CRLF line ends). */
  output: string;
  /** The RouterOS error text that stopped the line, without line end. */
  error?: string;
}

/** The menus of the simulated appliance (of RouterOS `version`; default: every command the simulator has). */
export function buildGrammar(version = "999"): Grammar {
  const root: MenuNode = menuNode("", {}, [diskMenu(), fileMenu(), systemMenu()]);
  installSnapshotCommands(root, version);
  return { root, script: scriptCommands() };
}

export class Interpreter {
  private readonly grammar: Grammar;
  private readonly services: SimServices;

  constructor(services: SimServices, grammar: Grammar = buildGrammar(services.version)) {
    this.services = services;
    this.grammar = grammar;
  }

  async run(line: string, opts: { width: number }): Promise<LineResult> {
    let output = "";
    let body: Statement[];
    try {
      body = parseLine(line, this.grammar);
    } catch (err) {
      if (err instanceof CliError) return { output, error: err.message };
      throw err;
    }
    const vars = new Map<string, Value>();
    const ctx = this.context(opts.width, vars, false, (t) => {
      output += t;
    });
    try {
      await ctx.runBlock(body);
      return { output };
    } catch (err) {
      if (err instanceof CliError) return { output, error: err.message };
      throw err;
    }
  }

  private context(
    width: number,
    vars: Map<string, Value>,
    inSubstitution: boolean,
    print: (t: string) => void,
  ): ExecContext {
    const ctx: ExecContext = {
      print,
      width,
      vars,
      inSubstitution,
      services: this.services,
      runBlock: async (body) => {
        let last: Value = NIL;
        for (const st of body) last = await this.statement(ctx, st);
        return last;
      },
      evalValue: (node) => this.evalValue(ctx, node),
    };
    return ctx;
  }

  private async statement(ctx: ExecContext, st: Statement): Promise<Value> {
    if (st.menuOnly) return NIL;
    const call: Call = {
      statement: st,
      named: new Map(),
      blocks: new Map(),
      flags: new Set(st.flags),
      where: st.where,
    };
    for (const arg of st.named) {
      if (arg.value.k === "block") call.blocks.set(arg.name, arg.value.body);
      else call.named.set(arg.name, { value: await this.evalValue(ctx, arg.value), col: arg.col });
    }
    return st.cmd.run(ctx, call);
  }

  private async evalValue(ctx: ExecContext, node: ValueNode): Promise<Value> {
    switch (node.k) {
      case "word":
        return str(node.text);
      case "string":
        return str(
          node.parts
            .map((p) => (typeof p === "string" ? p : toText(ctx.vars.get(p.variable) ?? NIL)))
            .join(""),
        );
      case "var":
        return ctx.vars.get(node.name) ?? NIL;
      case "sub": {
        const sub = this.context(ctx.width, ctx.vars, true, ctx.print);
        return sub.runBlock(node.body);
      }
      case "block":
        return NIL;
      case "paren": {
        let v = await this.evalValue(ctx, node.first);
        for (const { op, operand } of node.ops) {
          const rhs = await this.evalValue(ctx, operand);
          v = op === "->" ? indexValue(v, rhs) : str(toText(v) + toText(rhs));
        }
        return v;
      }
    }
  }
}
