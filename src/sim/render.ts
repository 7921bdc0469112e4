// Pure text renderers for RouterOS console output: `print detail`, table `print`, `print terse`, singleton
// `print` (`key: value`), as-value and the value formatting rules (space-grouped numbers, humanized sizes,
// quoting). No I/O here: the driver's parser tests import this file to render records at many widths.
// Formats follow docs/routeros.md §1.6 (RDS2216 samples, RouterOS 7.24.x) and §4.

export const CRLF = "\r\n";

/** `1099511627776` → `1 099 511 627 776` (RouterOS groups digits with spaces). */
export function groupDigits(n: number | bigint | string): string {
  const s = String(n);
  const negative = s.startsWith("-");
  const digits = negative ? s.slice(1) : s;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  return negative ? `-${grouped}` : grouped;
}

const BINARY_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["TiB", 2 ** 40],
  ["GiB", 2 ** 30],
  ["MiB", 2 ** 20],
  ["KiB", 2 ** 10],
];

/**
 * Humanized size (§1.6f): one decimal, binary units, the largest unit in which the value is at least 10.
 * 1 TiB → `1024.0GiB`, 50 GiB → `50.0GiB`; below 10 KiB the raw byte count (`5`, `0`, `4096`).
 */
export function humanSize(bytes: number): string {
  for (const [unit, size] of BINARY_UNITS) {
    const v = bytes / size;
    if (v >= 10) return `${v.toFixed(1)}${unit}`;
  }
  return String(bytes);
}

/** A console string literal: double quotes, with `\`, `"`, `$` and control characters escaped. */
export function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\\" || ch === '"' || ch === "$") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

// ---------------------------------------------------------------------------------------------------------
// Flags

/**
 * One flag of a menu. Flags sharing a `group` share one column of the flag field (RouterOS prints e.g.
 * `M` or `S` in the same position); the legend separates groups with `; ` and flags within a group with `, `.
 */
export interface FlagDef {
  letter: string;
  name: string;
  group: number;
}

interface FlagLayout {
  /** Groups that have at least one flag set in the printed rows, in group order. */
  groups: number[];
  legend: string[];
}

function layoutFlags(flagSets: readonly string[], defs: readonly FlagDef[], width: number): FlagLayout {
  const present = new Set<string>();
  for (const set of flagSets) for (const letter of set) if (letter !== " ") present.add(letter);
  const used = defs.filter((d) => present.has(d.letter));
  const groups = [...new Set(used.map((d) => d.group))].sort((a, b) => a - b);
  if (groups.length === 0) return { groups, legend: [] };
  const parts = groups.map((g) =>
    used
      .filter((d) => d.group === g)
      .map((d) => `${d.letter} - ${d.name.toUpperCase()}`)
      .join(", "),
  );
  // The legend wraps between groups (`; `), continuing under the first entry (§1.6a sample).
  const head = "Flags: ";
  const legend: string[] = [];
  let line = head;
  let first = true;
  for (const part of parts) {
    const candidate = first ? line + part : `${line}; ${part}`;
    if (!first && width > 0 && candidate.length > width) {
      legend.push(line);
      line = " ".repeat(head.length) + part;
    } else {
      line = candidate;
    }
    first = false;
  }
  legend.push(line);
  return { groups, legend };
}

/** The flag field of one row: one character per present group, the row's letter or a space. */
function flagField(flags: string, layout: FlagLayout, defs: readonly FlagDef[]): string {
  return layout.groups
    .map((g) => {
      const hit = defs.find((d) => d.group === g && flags.includes(d.letter));
      return hit ? hit.letter : " ";
    })
    .join("");
}

// ---------------------------------------------------------------------------------------------------------
// Wrapping

/**
 * Lays tokens out on lines of at most `width` characters (0 = unlimited). The first line starts with
 * `firstPrefix`, continuation lines with `indent` spaces. Tokens are separated by one space and never split
 * unless a token does not fit even on an empty continuation line: then it is cut at the line end and
 * continues on the next line (what the competitor's hardware fixtures show for long `file-path` values).
 */
export function wrapTokens(
  tokens: readonly string[],
  firstPrefix: string,
  indent: number,
  width: number,
): string[] {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  let cur = firstPrefix;
  let hasToken = false;
  for (const tok of tokens) {
    const sep = hasToken ? 1 : 0;
    if (width <= 0 || cur.length + sep + tok.length <= width) {
      cur += (sep ? " " : "") + tok;
      hasToken = true;
      continue;
    }
    if (hasToken) {
      lines.push(cur);
      cur = pad;
    }
    let rest = tok;
    while (cur.length + rest.length > width) {
      const room = Math.max(1, width - cur.length);
      lines.push(cur + rest.slice(0, room));
      cur = pad;
      rest = rest.slice(room);
    }
    cur += rest;
    hasToken = true;
  }
  lines.push(cur);
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// print detail

export interface RenderProp {
  key: string;
  /** Already formatted for the console (quoted, grouped, humanized...). */
  text: string;
}

export interface DetailRecord {
  /** Item number: the position of the item in the whole (unfiltered) menu list. */
  number: number;
  /** Flag letters set on the item, e.g. `Bt`. */
  flags?: string;
  comment?: string;
  props: readonly RenderProp[];
}

export interface RenderOptions {
  /** Terminal width; 0 = no wrapping. */
  width: number;
  flagDefs?: readonly FlagDef[];
}

function joinLines(lines: readonly string[]): string {
  return lines.length === 0 ? "" : lines.join(CRLF) + CRLF;
}

/**
 * `print detail` (§1.6b): optional `Flags:` legend (only flags present), then per record
 * `<number right-aligned> <flag field> <key=value ...>` wrapped at `width`, continuation lines indented to
 * the property column, a `;;; comment` on the first line (properties then start on the next line), and a
 * line holding one space between records. CRLF line ends. Nothing at all for no records.
 */
export function renderDetail(records: readonly DetailRecord[], opts: RenderOptions): string {
  if (records.length === 0) return "";
  const defs = opts.flagDefs ?? [];
  const layout = layoutFlags(
    records.map((r) => r.flags ?? ""),
    defs,
    opts.width,
  );
  const numWidth = Math.max(...records.map((r) => String(r.number).length));
  const lines: string[] = [...layout.legend];
  records.forEach((rec, i) => {
    if (i > 0) lines.push(" ");
    let prefix = `${String(rec.number).padStart(numWidth)} `;
    if (layout.groups.length > 0) prefix += `${flagField(rec.flags ?? "", layout, defs)} `;
    const indent = prefix.length;
    const tokens = rec.props.map((p) => `${p.key}=${p.text}`);
    if (rec.comment !== undefined) {
      const words = [";;;", ...rec.comment.split(" ").filter((w) => w !== "")];
      lines.push(...wrapTokens(words, prefix, indent, opts.width));
      if (tokens.length > 0) lines.push(...wrapTokens(tokens, " ".repeat(indent), indent, opts.width));
    } else {
      lines.push(...wrapTokens(tokens, prefix, indent, opts.width));
    }
  });
  return joinLines(lines);
}

// ---------------------------------------------------------------------------------------------------------
// print (table)

export interface TableColumn {
  /** Upper-case header, e.g. `SLOT`. */
  title: string;
  align?: "left" | "right";
}

export interface TableRow {
  number: number;
  flags?: string;
  comment?: string;
  cells: readonly string[];
}

/**
 * Table `print` (§1.6a, §4): legend, `Columns: A, B`, header row, one row per item; numbers right-aligned,
 * columns separated by two spaces, right-aligned columns for numbers/sizes, a comment as a `;;; text` line
 * above its row. Trailing blanks are trimmed. Nothing at all for no rows.
 */
export function renderTable(
  columns: readonly TableColumn[],
  rows: readonly TableRow[],
  opts: RenderOptions,
): string {
  if (rows.length === 0) return "";
  const defs = opts.flagDefs ?? [];
  const layout = layoutFlags(
    rows.map((r) => r.flags ?? ""),
    defs,
    opts.width,
  );
  const numWidth = Math.max(1, ...rows.map((r) => String(r.number).length));
  const flagWidth = layout.groups.length;
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...rows.map((r) => (r.cells[i] ?? "").length)),
  );
  const cell = (text: string, i: number): string =>
    columns[i]?.align === "right" ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
  const lead = (num: string, flags: string): string =>
    `${num.padEnd(numWidth)} ${flagWidth > 0 ? `${flags.padEnd(flagWidth)} ` : ""}`;
  const lines: string[] = [...layout.legend];
  lines.push(`Columns: ${columns.map((c) => c.title).join(", ")}`);
  lines.push((lead("#", "") + columns.map((c, i) => cell(c.title, i)).join("  ")).trimEnd());
  for (const row of rows) {
    if (row.comment !== undefined) lines.push(`;;; ${row.comment}`);
    const num = String(row.number).padStart(numWidth);
    const flags = flagWidth > 0 ? flagField(row.flags ?? "", layout, defs) : "";
    lines.push((lead(num, flags) + row.cells.map((c, i) => cell(c, i)).join("  ")).trimEnd());
  }
  return joinLines(lines);
}

// ---------------------------------------------------------------------------------------------------------
// print terse, singleton print, as-value

/** `print terse` (§1.6c): one line per item, values unquoted even with spaces, never wrapped. */
export function renderTerse(
  records: readonly DetailRecord[],
  opts: { flagDefs?: readonly FlagDef[] },
): string {
  if (records.length === 0) return "";
  const defs = opts.flagDefs ?? [];
  const layout = layoutFlags(
    records.map((r) => r.flags ?? ""),
    defs,
    0,
  );
  const numWidth = Math.max(...records.map((r) => String(r.number).length));
  return joinLines(
    records.map((r) => {
      const flags = layout.groups.length > 0 ? `${flagField(r.flags ?? "", layout, defs)} ` : "";
      const comment = r.comment !== undefined ? [`comment=${r.comment}`] : [];
      const props = [...comment, ...r.props.map((p) => `${p.key}=${unquote(p.text)}`)];
      return `${String(r.number).padStart(numWidth)} ${flags}${props.join(" ")}`;
    }),
  );
}

function unquote(text: string): string {
  if (!(text.startsWith('"') && text.endsWith('"') && text.length >= 2)) return text;
  return text.slice(1, -1).replace(/\\(.)/g, "$1");
}

/** Singleton menus (`/system resource print`): `key: value` lines, keys right-aligned. */
export function renderSingleton(props: readonly RenderProp[]): string {
  if (props.length === 0) return "";
  const keyWidth = Math.max(...props.map((p) => p.key.length));
  return joinLines(props.map((p) => `${p.key.padStart(keyWidth + 2)}: ${p.text}`));
}

/** Scripting form of records (`:put [... print as-value]`): `key=value;key=value`, records chained by `;`. */
export function renderAsValue(records: ReadonlyArray<ReadonlyArray<readonly [string, string]>>): string {
  return records.map((r) => r.map(([k, v]) => `${k}=${v}`).join(";")).join(";");
}
