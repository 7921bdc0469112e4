// The command tree: menus (`/disk`, `/system resource`) with their commands, and what a command receives
// when it runs. The parser uses the declared arguments to report `expected end of command` at parse time.
import type { Expr, Statement, ValueNode } from "./ast.ts";
import type { SimStore } from "./store.ts";
import type { Value } from "./values.ts";

export interface CommandDef {
  /** Named arguments (`key=value`) and bare modifiers (`detail`, `as-value`). */
  args: Readonly<Record<string, "value" | "flag">>;
  /**
   * Names of the unnamed arguments by position (`numbers` for set/remove, `message` for `:put`). Each can
   * also be given as `name=value`.
   */
  positionals?: readonly string[];
  /** Accepts `where <expr>` (it runs to the end of the command). */
  where?: boolean;
  /** `find`: everything after the verb (optionally after `where`) is an expression. */
  expression?: boolean;
  run(ctx: ExecContext, call: Call): Promise<Value>;
}

export interface MenuNode {
  name: string;
  children: Map<string, MenuNode>;
  commands: Map<string, CommandDef>;
  /** Property names usable in `where` expressions. */
  propKeys: ReadonlySet<string>;
}

export function menuNode(
  name: string,
  commands: Record<string, CommandDef> = {},
  children: MenuNode[] = [],
  propKeys: Iterable<string> = [],
): MenuNode {
  return {
    name,
    commands: new Map(Object.entries(commands)),
    children: new Map(children.map((c) => [c.name, c])),
    propKeys: new Set(propKeys),
  };
}

export interface ArgValue {
  value: Value;
  col: number;
}

/** A command invocation with its argument values evaluated (blocks are left for the command to run). */
export interface Call {
  statement: Statement;
  /** Named and positional arguments by name. */
  named: Map<string, ArgValue>;
  /** Arguments written as `{ ... }` blocks. */
  blocks: Map<string, Statement[]>;
  flags: Set<string>;
  where?: Expr;
}

/** What the simulator offers commands beyond the store. */
export interface SimServices {
  store: SimStore;
  version: string;
  packages: readonly string[];
  boardName: string;
  /** Fault injection: the pool reports no free space. */
  diskFull(): boolean;
  /** The SSH host private key (OpenSSH or PEM), for `/ip ssh export-host-key`. */
  hostKey: string;
}

export interface ExecContext {
  /** Appends console output (CRLF-terminated lines). */
  print(text: string): void;
  /** Wrap width for `print detail`; 0 = none. */
  readonly width: number;
  readonly vars: Map<string, Value>;
  /** True inside `[...]`: `print count-only` then only returns its number. */
  readonly inSubstitution: boolean;
  runBlock(body: Statement[]): Promise<Value>;
  evalValue(node: ValueNode): Promise<Value>;
  readonly services: SimServices;
}
