// Runs one command line: parse everything first (a parse error runs nothing), then run the commands in
// order, stopping at the first runtime error like RouterOS (§2.2); output before the error is kept.
import {
  type Call,
  type ExecContext,
  type MenuNode,
  menuNode,
  type SimServices,
  type Statement,
  type ValueNode,
} from "./commands.ts";
import { CliError } from "./errors.ts";
import type { LineResult } from "./line-result.ts";
import { diskMenu } from "./menus/disk.ts";
import { fileMenu } from "./menus/file.ts";
import { ipMenu } from "./menus/ip.ts";
import { scriptCommands } from "./menus/script.ts";
import { installSnapshotCommands } from "./menus/snapshots.ts";
import { systemMenu } from "./menus/system.ts";
import { type Grammar, parseLine } from "./parser.ts";
import { indexValue, NIL, str, toText, type Value } from "./values.ts";

export type { LineResult };

export interface RunOptions {
  width: number;
  /**
   * Called for every command as it runs, at any depth (`[...]`, `{...}`), with its canonical text: the full
   * menu path and command, then the arguments as written (`/disk add type=file ...`, `/disk find slot=x`,
   * `:put "x"`). Commands after a runtime error, and lines that fail to parse, run nothing.
   */
  onCommand?: (text: string) => void;
  /**
   * Called after each command ran, with its canonical text. A returned text is a runtime error of that
   * command: the line stops there, as an appliance that refuses a change stops the rest of the line. The
   * simulator uses it to apply nvmet exports command by command (a refused export fails its own `/disk add`,
   * not whatever part of a batched line runs last).
   */
  afterCommand?: (text: string) => Promise<string | undefined>;
}

/** The console path of each menu node, `/disk btrfs subvolume` (the root is ``). */
function menuPaths(root: MenuNode): Map<MenuNode, string> {
  const paths = new Map<MenuNode, string>([[root, ""]]);
  const walk = (node: MenuNode, path: string): void => {
    for (const child of node.children.values()) {
      const p = path === "" ? `/${child.name}` : `${path} ${child.name}`;
      paths.set(child, p);
      walk(child, p);
    }
  };
  walk(root, "");
  return paths;
}

/** The menus of the simulated appliance (of RouterOS `version`; default: every command the simulator has). */
export function buildGrammar(version = "999"): Grammar {
  const root: MenuNode = menuNode("", {}, [diskMenu(), fileMenu(), ipMenu(), systemMenu()]);
  installSnapshotCommands(root, version);
  return { root, script: scriptCommands() };
}

export class Interpreter {
  private readonly grammar: Grammar;
  private readonly services: SimServices;

  private readonly paths: Map<MenuNode, string>;

  constructor(services: SimServices, grammar: Grammar = buildGrammar(services.version)) {
    this.services = services;
    this.grammar = grammar;
    this.paths = menuPaths(grammar.root);
  }

  /** Canonical text of a statement: `/disk add type=file ...` however it was written (`disk/add`, `add`). */
  commandText(st: Statement): string {
    const head =
      this.grammar.script.get(st.name) === st.cmd
        ? `:${st.name}`
        : `${this.paths.get(st.menu) ?? ""} ${st.name}`;
    return st.argsText ? `${head} ${st.argsText}` : head;
  }

  async run(line: string, opts: RunOptions): Promise<LineResult> {
    let output = "";
    let body: Statement[];
    try {
      body = parseLine(line, this.grammar);
    } catch (err) {
      if (err instanceof CliError) return { output, error: err.message };
      throw err;
    }
    const vars = new Map<string, Value>();
    const ctx = this.context(
      opts.width,
      vars,
      false,
      opts.onCommand,
      (t) => {
        output += t;
      },
      opts.afterCommand,
    );
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
    onCommand: RunOptions["onCommand"],
    print: (t: string) => void,
    afterCommand?: RunOptions["afterCommand"],
  ): ExecContext {
    const ctx: ExecContext = {
      print,
      width,
      vars,
      inSubstitution,
      services: this.services,
      runBlock: async (body) => {
        let last: Value = NIL;
        for (const st of body) {
          const text = st.menuOnly ? undefined : this.commandText(st);
          if (text !== undefined) onCommand?.(text);
          last = await this.statement(ctx, st);
          const refused = text !== undefined ? await afterCommand?.(text) : undefined;
          if (refused !== undefined) throw new CliError(refused, false);
        }
        return last;
      },
      evalValue: (node) => this.evalValue(ctx, node, onCommand),
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
      else call.named.set(arg.name, { value: await ctx.evalValue(arg.value), col: arg.col });
    }
    return st.cmd.run(ctx, call);
  }

  private async evalValue(
    ctx: ExecContext,
    node: ValueNode,
    onCommand: RunOptions["onCommand"],
  ): Promise<Value> {
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
        const sub = this.context(ctx.width, ctx.vars, true, onCommand, ctx.print);
        return sub.runBlock(node.body);
      }
      case "block":
        return NIL;
      case "paren": {
        let v = await this.evalValue(ctx, node.first, onCommand);
        for (const { op, operand } of node.ops) {
          const rhs = await this.evalValue(ctx, operand, onCommand);
          v = op === "->" ? indexValue(v, rhs) : str(toText(v) + toText(rhs));
        }
        return v;
      }
    }
  }
}
