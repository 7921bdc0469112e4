// The command tree: menus (`/disk`, `/system resource`) with their commands, and what a command receives
// when it runs. The parser uses the declared arguments to report `expected end of command` at parse time.
// The syntax tree of one command line (produced by parser.ts, run by interpreter.ts) lives here too: each
// statement is resolved against the tree (its menu and command), and a command receives statements and
// blocks to run, so the two are one set of mutually recursive types (one module, no import circle).
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

// ---- Syntax tree of one RouterOS command line ----

/** A value as written on the line. Columns are 1-based, for error messages. */
export type ValueNode =
  /** Unquoted: `pvc-1`, `4420`, `*1A`, `storage-pool/k8s/x.img`. */
  | { k: "word"; text: string; col: number }
  /** `"..."`: literal text and `$var` substitutions. */
  | { k: "string"; parts: Array<string | { variable: string }>; col: number }
  | { k: "var"; name: string; col: number }
  /** `[ ... ]`: command substitution; its value is the last command's return value. */
  | { k: "sub"; body: Statement[]; col: number }
  /** `{ ... }`: a block (for `:do`, `:onerror`), run only when the command decides to. */
  | { k: "block"; body: Statement[]; col: number }
  /** `( a -> b . c )`: element access and string concatenation, left to right. */
  | { k: "paren"; first: ValueNode; ops: Array<{ op: "->" | "."; operand: ValueNode }>; col: number };

export type CmpOp = "=" | "!=" | "~" | "<" | ">" | "<=" | ">=";

/** A `where` / `find` expression. */
export type Expr =
  | { k: "and" | "or"; a: Expr; b: Expr }
  | { k: "not"; e: Expr }
  /** `key` alone tests "is set"; `opaque` marks an unquoted value with `/` or `:` (§1.6e: matches nothing). */
  | { k: "cmp"; key: string; col: number; op?: CmpOp; value?: ValueNode; opaque?: boolean };

/** An argument: `name=value`, or an unnamed one given the name of its position (`numbers`, `message`). */
export interface NamedArg {
  name: string;
  value: ValueNode;
  col: number;
}

export interface Statement {
  menu: MenuNode;
  name: string;
  cmd: CommandDef;
  col: number;
  named: NamedArg[];
  /** Bare modifiers such as `detail`, `as-value`. */
  flags: string[];
  where?: Expr;
  /** True when the line only named a menu (`/disk`): a no-op over exec. */
  menuOnly?: boolean;
  /** The arguments as written (after the command word, trimmed): what latency rules match after the path. */
  argsText?: string;
}
