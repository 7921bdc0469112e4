// Syntax tree of one RouterOS command line, produced by parser.ts and run by interpreter.ts.
import type { CommandDef, MenuNode } from "./commands.ts";

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
