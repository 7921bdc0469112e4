// Character-level reading of a command line: positions (1-based columns), words, quoted strings with
// RouterOS escapes. The grammar itself lives in parser.ts.
import { syntaxError } from "./errors.ts";

/** Characters of names and unquoted simple values: keys, menu names, `where` operands. */
const NAME_CHAR = /[A-Za-z0-9._-]/;
const SPACE = /[ \t]/;

export class Scanner {
  readonly src: string;
  pos = 0;

  constructor(src: string) {
    this.src = src;
  }

  /** 1-based column of a position (commands over exec are one line). */
  col(pos = this.pos): number {
    return pos + 1;
  }

  peek(offset = 0): string {
    return this.src[this.pos + offset] ?? "";
  }

  eof(): boolean {
    return this.pos >= this.src.length;
  }

  skipSpaces(): void {
    while (SPACE.test(this.peek())) this.pos++;
  }

  /** End of the current command: end of line, `;`, or the closing bracket of an enclosing `[...]`/`{...}`. */
  atCommandEnd(): boolean {
    const c = this.peek();
    return c === "" || c === ";" || c === "]" || c === "}" || c === "\n" || c === "\r";
  }

  isSpace(c = this.peek()): boolean {
    return SPACE.test(c);
  }

  readName(): string {
    const start = this.pos;
    while (NAME_CHAR.test(this.peek())) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** Reads characters until one in `stop` (or a space / line end). */
  readUntil(stop: string): string {
    const start = this.pos;
    while (!this.eof()) {
      const c = this.peek();
      if (SPACE.test(c) || c === "\n" || c === "\r" || stop.includes(c)) break;
      this.pos++;
    }
    return this.src.slice(start, this.pos);
  }

  /**
   * A `"..."` literal starting at the current position. Escapes: `\" \\ \$ \n \r \t \_ \a \b \f \v \?` and
   * `\HH`; an unknown escape or a missing closing quote is a syntax error. `$name` is a substitution.
   */
  readQuoted(): Array<string | { variable: string }> {
    const open = this.pos;
    this.pos++; // opening quote
    const parts: Array<string | { variable: string }> = [];
    let text = "";
    for (;;) {
      if (this.eof()) throw syntaxError(this.col(open));
      const c = this.peek();
      if (c === '"') {
        this.pos++;
        break;
      }
      if (c === "\\") {
        const escCol = this.col();
        const e = this.peek(1);
        const simple: Record<string, string> = {
          '"': '"',
          "\\": "\\",
          $: "$",
          n: "\n",
          r: "\r",
          t: "\t",
          _: " ",
          a: "\x07",
          b: "\b",
          f: "\f",
          v: "\v",
          "?": "?",
        };
        const mapped = simple[e];
        if (mapped !== undefined) {
          text += mapped;
          this.pos += 2;
          continue;
        }
        const hex = this.src.slice(this.pos + 1, this.pos + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          text += String.fromCharCode(Number.parseInt(hex, 16));
          this.pos += 3;
          continue;
        }
        throw syntaxError(escCol);
      }
      if (c === "$") {
        const dollarCol = this.col();
        this.pos++;
        const name = this.readVariableName();
        if (name === "") throw syntaxError(dollarCol);
        if (text !== "") parts.push(text);
        text = "";
        parts.push({ variable: name });
        continue;
      }
      text += c;
      this.pos++;
    }
    if (text !== "" || parts.length === 0) parts.push(text);
    return parts;
  }

  readVariableName(): string {
    const start = this.pos;
    while (/[A-Za-z0-9_]/.test(this.peek())) this.pos++;
    return this.src.slice(start, this.pos);
  }
}
