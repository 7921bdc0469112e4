// Typed readers for single RouterOS values as printed by `print detail`.

export class RdsParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RdsParseError";
  }
}

/**
 * `1 099 511 627 776` or `1099511627776` → 1099511627776 (exact; refuses anything above 2^53-1). Spaces
 * are accepted anywhere between digits: a wrapped number may be re-joined with or without its space.
 */
export function parseGroupedInt(text: string): number {
  const t = text.trim();
  if (!/^\d[\d ]*$/.test(t)) throw new RdsParseError(`not an integer: ${JSON.stringify(text)}`);
  const n = Number(t.replaceAll(" ", ""));
  if (!Number.isSafeInteger(n)) throw new RdsParseError(`integer too large: ${JSON.stringify(text)}`);
  return n;
}

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  PiB: 2 ** 50,
  EiB: 2 ** 60,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
};

/**
 * A size as RouterOS prints it: exact (`5`, `1 099 511 627 776`) or humanized with binary units and one
 * decimal (`50.0GiB`, `1924.1KiB`). Humanized values are approximate (rounded to whole bytes): use them
 * only where no exact field exists (`/file print` sizes).
 */
export function parseSize(text: string): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)\s?([KMGTPE]iB|[KMGT]|B)$/.exec(t);
  if (!m) return parseGroupedInt(t);
  const [, num = "", unit = ""] = m;
  const factor = UNITS[unit];
  if (factor === undefined) throw new RdsParseError(`unknown size unit in ${JSON.stringify(text)}`);
  return Math.round(Number(num) * factor);
}

/** `yes`/`no` (also `true`/`false`, as scripts print them). */
export function parseBool(text: string): boolean {
  switch (text.trim()) {
    case "yes":
    case "true":
      return true;
    case "no":
    case "false":
      return false;
    default:
      throw new RdsParseError(`not a boolean: ${JSON.stringify(text)}`);
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  $: "$",
  "?": "?",
  _: " ",
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/**
 * Reads a double-quoted RouterOS string starting at `text[start] === '"'`. Returns the decoded value
 * and the index just after the closing quote, or `end: -1` when the string is not closed.
 */
export function readQuoted(text: string, start: number): { value: string; end: number } {
  let value = "";
  let i = start + 1;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') return { value, end: i + 1 };
    if (c !== "\\") {
      value += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) break;
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      value += simple;
      i += 2;
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      value += String.fromCharCode(Number.parseInt(hex, 16));
      i += 3;
      continue;
    }
    value += next; // unknown escape: keep the character, as RouterOS does
    i += 2;
  }
  return { value, end: -1 };
}
