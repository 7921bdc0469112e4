// Grammar of the RouterOS console subset (docs/routeros.md §1.4–1.6, §2.2–2.3, §9.3):
//
//   line      := command (';' command)*
//   command   := ':' name args                      scripting: :put :len :serialize :do :onerror
//              | ['/'] path-word (('/' | ' ') path-word)* args    /disk add, /disk/add, /system resource print
//   args      := (key '=' value | modifier | positional | 'where' expr)*
//   value     := word | '"' string '"' | '[' line ']' | '{' line '}' | '$' name | '(' value ('->'|'.' value)* ')'
//   expr      := and ('or' and)*;  and := unary (['and'] unary)*;  unary := '!' unary | '(' expr ')' | cmp
//   cmp       := key [op operand]          op: = != ~ < > <= >=;  a bare key tests "is set"
//
// Errors carry the 1-based column of the offending token: unknown command → `bad command name X`, unknown
// argument or a bare `key=` followed by more text → `expected end of command`, anything else malformed →
// `syntax error`. The whole line is parsed before anything runs, like RouterOS.
import type { CmpOp, CommandDef, Expr, MenuNode, NamedArg, Statement, ValueNode } from "./commands.ts";
import { badCommandName, expectedEndOfCommand, syntaxError } from "./errors.ts";
import { Scanner } from "./scanner.ts";

export interface Grammar {
  root: MenuNode;
  /** Scripting commands by name, without the leading `:`. */
  script: Map<string, CommandDef>;
}

/** Stops an unquoted argument value; anything here other than a terminator is a syntax error. */
const VALUE_STOP = ';]}[{"$\\';
/** Stops an unquoted `where` operand. */
const OPERAND_STOP = ';]()"[{}';

export function parseLine(line: string, grammar: Grammar): Statement[] {
  const p = new Parser(line, grammar);
  return p.statements("", grammar.root);
}

class Parser {
  private readonly s: Scanner;
  private readonly g: Grammar;

  constructor(line: string, grammar: Grammar) {
    this.s = new Scanner(line);
    this.g = grammar;
  }

  /**
   * Commands until `end` (`]`, `}`) or, for `""`, the end of the line. Relative command names resolve in
   * `menu`: inside `/disk set [find ...]` that is `/disk`, as in RouterOS.
   */
  statements(end: "" | "]" | "}", menu: MenuNode): Statement[] {
    const s = this.s;
    const out: Statement[] = [];
    for (;;) {
      s.skipSpaces();
      const c = s.peek();
      if (c === "\n" || c === "\r") {
        // Multi-line input is not supported over exec (§2.2); inside a block a line break separates commands.
        if (end !== "}") throw syntaxError(s.col());
        s.pos++;
        continue;
      }
      if (c === "") {
        if (end !== "") throw syntaxError(s.col());
        return out;
      }
      if (c === end) return out;
      if (c === "]" || c === "}") throw syntaxError(s.col());
      if (c === ";") {
        s.pos++;
        continue;
      }
      out.push(this.statement(menu));
      s.skipSpaces();
      if (!s.atCommandEnd()) throw expectedEndOfCommand(s.col());
    }
  }

  private statement(context: MenuNode): Statement {
    const s = this.s;
    const col = s.col();
    if (s.peek() === ":") {
      s.pos++;
      const nameCol = s.col();
      const name = s.readName();
      const cmd = this.g.script.get(name);
      if (!cmd) throw name === "" ? syntaxError(nameCol) : badCommandName(name, nameCol);
      return this.args({ menu: context, name, cmd, col, named: [], flags: [] });
    }
    let menu = context;
    if (s.peek() === "/") {
      s.pos++;
      menu = this.g.root;
    }
    for (;;) {
      const wordCol = s.col();
      const word = s.readName();
      if (word === "") throw syntaxError(wordCol);
      const child = menu.children.get(word);
      const cmd = menu.commands.get(word);
      if (cmd) {
        if (s.peek() === "/") throw syntaxError(s.col());
        return this.args({ menu, name: word, cmd, col: wordCol, named: [], flags: [] });
      }
      if (!child) throw badCommandName(word, wordCol);
      menu = child;
      if (s.peek() === "/") s.pos++;
      s.skipSpaces();
      if (s.atCommandEnd()) {
        return { menu, name: "", cmd: NOOP, col, named: [], flags: [], menuOnly: true };
      }
    }
  }

  private args(st: Statement): Statement {
    const start = this.s.pos;
    const out = this.parseArgs(st);
    out.argsText = this.s.src.slice(start, this.s.pos).trim();
    return out;
  }

  private parseArgs(st: Statement): Statement {
    const s = this.s;
    const cmd = st.cmd;
    if (cmd.expression) {
      s.skipSpaces();
      const save = s.pos;
      if (s.readName() !== "where" || !(s.isSpace() || s.atCommandEnd())) s.pos = save;
      s.skipSpaces();
      if (!s.atCommandEnd()) st.where = this.expression(st.menu);
      return st;
    }
    const named: NamedArg[] = st.named;
    const positionals = cmd.positionals ?? [];
    let positionalIndex = 0;
    for (;;) {
      s.skipSpaces();
      if (s.atCommandEnd()) return st;
      const col = s.col();
      const start = s.pos;
      const word = s.readName();
      if (word !== "" && s.peek() === "=") {
        if (cmd.args[word] !== "value" && !positionals.includes(word)) throw expectedEndOfCommand(col);
        s.pos++; // '='
        named.push({ name: word, value: this.argValue(true, st.menu), col });
        continue;
      }
      const wordEnds = s.isSpace() || s.atCommandEnd();
      if (word === "where" && wordEnds && cmd.where) {
        s.skipSpaces();
        if (s.atCommandEnd()) throw syntaxError(s.col());
        st.where = this.expression(st.menu);
        return st;
      }
      if (word !== "" && wordEnds && cmd.args[word] === "flag") {
        st.flags.push(word);
        continue;
      }
      const name = positionals[positionalIndex];
      if (name === undefined) throw expectedEndOfCommand(col);
      s.pos = start;
      named.push({ name, value: this.argValue(false, st.menu), col });
      positionalIndex++;
    }
  }

  /**
   * The value after `key=` (named) or a positional value. A bare `key=` is an empty value only at the end
   * of the command; followed by more text it is `expected end of command` at that text (tik4net §3).
   */
  private argValue(named: boolean, menu: MenuNode): ValueNode {
    const s = this.s;
    const col = s.col();
    if (named && (s.isSpace() || s.atCommandEnd())) {
      s.skipSpaces();
      if (!s.atCommandEnd()) throw expectedEndOfCommand(s.col());
      return { k: "word", text: "", col };
    }
    return this.value(VALUE_STOP, "", menu);
  }

  /** `stop` ends an unquoted word; of those, only the characters in `follow` may come right after it. */
  private value(stop: string, follow: string, menu: MenuNode): ValueNode {
    const s = this.s;
    const col = s.col();
    const c = s.peek();
    if (c === '"') return { k: "string", parts: s.readQuoted(), col };
    if (c === "[") {
      s.pos++;
      const body = this.statements("]", menu);
      s.pos++; // ']'
      return { k: "sub", body, col };
    }
    if (c === "{") {
      s.pos++;
      const body = this.statements("}", menu);
      s.pos++; // '}'
      return { k: "block", body, col };
    }
    if (c === "$") {
      s.pos++;
      const name = s.readVariableName();
      if (name === "") throw syntaxError(col);
      return { k: "var", name, col };
    }
    if (c === "(") return this.paren(menu);
    const text = s.readUntil(stop);
    if (text === "") throw syntaxError(col);
    if (!(s.isSpace() || s.atCommandEnd() || (s.peek() !== "" && follow.includes(s.peek()))))
      throw syntaxError(s.col());
    return { k: "word", text, col };
  }

  private paren(menu: MenuNode): ValueNode {
    const s = this.s;
    const col = s.col();
    s.pos++; // '('
    s.skipSpaces();
    const first = this.value(`${OPERAND_STOP}-.`, ")-.", menu);
    const ops: Array<{ op: "->" | "."; operand: ValueNode }> = [];
    for (;;) {
      s.skipSpaces();
      if (s.peek() === ")") {
        s.pos++;
        return { k: "paren", first, ops, col };
      }
      let op: "->" | ".";
      if (s.src.startsWith("->", s.pos)) op = "->";
      else if (s.peek() === ".") op = ".";
      else throw syntaxError(s.col());
      s.pos += op.length;
      s.skipSpaces();
      ops.push({ op, operand: this.value(`${OPERAND_STOP}-.`, ")-.", menu) });
    }
  }

  // ---- where / find expressions -------------------------------------------------------------------

  private expression(menu: MenuNode): Expr {
    const e = this.or(menu);
    this.s.skipSpaces();
    if (!this.s.atCommandEnd()) throw syntaxError(this.s.col());
    return e;
  }

  private keyword(...words: string[]): string | undefined {
    const s = this.s;
    s.skipSpaces();
    for (const w of words) {
      if (!s.src.startsWith(w, s.pos)) continue;
      const after = s.src[s.pos + w.length] ?? "";
      if (/[A-Za-z]/.test(w) && /[A-Za-z0-9._-]/.test(after)) continue;
      s.pos += w.length;
      return w;
    }
    return undefined;
  }

  private or(menu: MenuNode): Expr {
    let left = this.and(menu);
    while (this.keyword("or", "||")) left = { k: "or", a: left, b: this.and(menu) };
    return left;
  }

  private and(menu: MenuNode): Expr {
    const s = this.s;
    let left = this.unary(menu);
    for (;;) {
      s.skipSpaces();
      if (s.atCommandEnd() || s.peek() === ")") return left;
      const save = s.pos;
      if (this.keyword("or", "||")) {
        s.pos = save;
        return left;
      }
      this.keyword("and", "&&"); // juxtaposition is an implicit `and`
      left = { k: "and", a: left, b: this.unary(menu) };
    }
  }

  private unary(menu: MenuNode): Expr {
    const s = this.s;
    s.skipSpaces();
    if (s.peek() === "!" && s.peek(1) !== "=") {
      s.pos++;
      return { k: "not", e: this.unary(menu) };
    }
    if (s.peek() === "(") {
      s.pos++;
      const e = this.or(menu);
      s.skipSpaces();
      if (s.peek() !== ")") throw syntaxError(s.col());
      s.pos++;
      return e;
    }
    return this.comparison(menu);
  }

  private comparison(menu: MenuNode): Expr {
    const s = this.s;
    const col = s.col();
    const key = s.readName();
    if (key === "" || key === "and" || key === "or" || !menu.propKeys.has(key)) throw syntaxError(col);
    s.skipSpaces();
    const op = (["!=", "<=", ">=", "=", "~", "<", ">"] as const).find((o) => s.src.startsWith(o, s.pos)) as
      | CmpOp
      | undefined;
    if (!op) return { k: "cmp", key, col };
    s.pos += op.length;
    s.skipSpaces();
    if (s.atCommandEnd() || s.peek() === ")") throw syntaxError(s.col());
    const value = this.value(OPERAND_STOP, ")", menu);
    // §1.6e: unquoted, `/` and `:` are operators in an expression, so such a value never equals a string.
    const opaque = value.k === "word" && /[/:]/.test(value.text);
    return { k: "cmp", key, col, op, value, opaque };
  }
}

const NOOP: CommandDef = {
  args: {},
  run: async () => ({ t: "nil" }),
};
