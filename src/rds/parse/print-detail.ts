// Parser for RouterOS `print detail` output (docs/routeros.md §1.6b, prior-art §2.2–2.3).
//
// Shape:   [Flags: legend (one or two lines)]
//          <item#> <flags> [;;; comment] key=value key="quoted value" ...
//                  <continuation lines, indented to the property column>
//          <a blank line or a line holding one space between records>
//
// Wrapping. RouterOS wraps properties at the terminal width between `key=value` tokens and splits a token
// that is longer than a whole line (a long file-path, NQN or comment) at exactly the width. When joining a
// continuation line C to the text T read so far we must decide between "" (hard split: the token
// continues) and " " (soft wrap: a space was dropped at the line end). The rules, in order:
//   1. a line shorter than the width W was soft-wrapped → " " (the renderer only breaks short at a space);
//   2. a line of exactly W (a hard split or an exact fit):
//      a. inside an open quoted value → "" (a quoted token never soft-wraps inside itself);
//      b. T ends with `=` → "" (a value never starts with a space);
//      c. C does not start with `key=` → "" (the rest of a value, e.g. `-yyy.img` or `627 776`);
//      d. C starts with `key=` and the last chunk of T is complete (holds `=`, a closing quote, digits...)
//         → " " (exact fit, C is a new token);
//      e. C starts with `key=` and the last chunk of T is a bare key fragment (`nvme-tcp-ser` + `ver-port=`):
//         known keys decide when given (glued known and split unknown → "", the reverse → " "), else "".
// W is the given wrap width or, by default, the longest property line of the output (every hard split
// produces a line of exactly W). Continuation lines are stripped of exactly the record's indentation, so a
// split just before a space keeps that space. Comments (`;;; text`) are wrapped between words and continue
// until a line that starts with `key=` (with known keys: a known key); see commentSeparator().
// Ambiguities that remain, by construction: an exact-fit soft wrap in front of a key fragment without known
// keys (2e); a renderer that wraps at spaces *inside* a property value on a line of exactly W; a comment
// line of exactly W followed by a word that, with the line's last word, would not fit on one line.
// Property-based tests (test/rds/parse-detail.test.ts) pin the supported renderers: the simulator's and an
// independent one, with long tokens cut after filling the line or from a fresh line.
import { RdsParseError, readQuoted } from "./values.ts";

export interface DetailRecord {
  /** The item column: a print number (`31`) or an internal id (`*1A`); undefined when not printed. */
  item?: string;
  /** Flag letters, e.g. `Bt` (padding removed). */
  flags: string;
  /** The `;;;` comment line(s), joined. */
  comment?: string;
  props: Map<string, string>;
}

export interface ParseDetailOptions {
  /** Property names of this menu; they settle the rare exact-fit ambiguities (rule 2e) and comment ends. */
  knownKeys?: ReadonlySet<string>;
  /** The terminal width if known; otherwise the longest property line is taken as the width. */
  wrapWidth?: number;
}

interface PhysLine {
  /** The line without the record's indentation (without the item and flags columns on the first line). */
  content: string;
  /** Length of the whole physical line (trailing spaces removed). */
  length: number;
}

interface RawRecord {
  item?: string;
  flags: string;
  indent?: number;
  lines: PhysLine[];
}

const HEADER = /^( *)(\d+|\*[0-9A-Fa-f]+)(?= |$)/;
const PROPS_START = / (;;;|[a-z.][a-z0-9.-]*=)/;
const KEY_AT_START = /^([a-z.][a-z0-9.-]*)=/;
const KEY_FRAGMENT = /^[a-z.][a-z0-9.-]*$/;
const LEGEND_CONTINUATION = /^\s*[A-Za-z] - [A-Za-z]/;

export function parsePrintDetail(text: string, opts: ParseDetailOptions = {}): DetailRecord[] {
  const lines = text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => l.replace(/\s+$/, ""));
  const raws = groupRecords(lines, skipLegend(lines));
  const width = opts.wrapWidth ?? inferWidth(raws);
  return raws.map((raw) => buildRecord(raw, width, opts.knownKeys));
}

function skipLegend(lines: string[]): number {
  let inLegend = false;
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === "") continue;
    if (line.startsWith("Flags:")) inLegend = true;
    else if (line.startsWith("Columns:")) inLegend = false;
    else if (!(inLegend && LEGEND_CONTINUATION.test(line))) break;
  }
  return i;
}

function groupRecords(lines: string[], start: number): RawRecord[] {
  const records: RawRecord[] = [];
  let cur: RawRecord | undefined;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === "") continue;
    const lead = line.length - line.trimStart().length;
    const header = HEADER.exec(line);
    if (header && (cur === undefined || cur.indent === undefined || lead < cur.indent)) {
      cur = startRecord(line, header);
      records.push(cur);
    } else if (cur === undefined) {
      // Some captures omit the item column entirely (prior-art §2.3): the first line is a property line.
      if (!/^\s*(;;;|[a-z.][a-z0-9.-]*=)/.test(line))
        throw new RdsParseError(`unexpected output: ${clip(line)}`);
      cur = { flags: "", lines: [{ content: line.trimStart(), length: line.length }] };
      records.push(cur);
    } else {
      cur.indent ??= lead;
      cur.lines.push({ content: line.slice(Math.min(lead, cur.indent)), length: line.length });
    }
  }
  return records;
}

function startRecord(line: string, header: RegExpExecArray): RawRecord {
  const item = header[2] as string;
  const itemEnd = header[0].length;
  const rest = line.slice(itemEnd);
  const start = PROPS_START.exec(rest);
  const flagText = start ? rest.slice(0, start.index + 1) : rest;
  if (!/^[ A-Za-z]*$/.test(flagText)) throw new RdsParseError(`bad item header: ${clip(line)}`);
  const flags = flagText.replaceAll(" ", "");
  if (!start) return { item, flags, lines: [] };
  const column = itemEnd + start.index + 1;
  return { item, flags, indent: column, lines: [{ content: line.slice(column), length: line.length }] };
}

/** The longest property line: a hard split fills its line to exactly the width. Comment lines do not count
 * (a renderer may leave a long comment unwrapped). */
function inferWidth(records: RawRecord[]): number {
  let width = 0;
  for (const r of records)
    for (const l of r.lines) if (!l.content.startsWith(";;;")) width = Math.max(width, l.length);
  return width;
}

function buildRecord(raw: RawRecord, width: number, knownKeys?: ReadonlySet<string>): DetailRecord {
  const record: DetailRecord = { flags: raw.flags, props: new Map() };
  if (raw.item !== undefined) record.item = raw.item;
  const lines = raw.lines;
  let k = 0;
  if (lines[0]?.content.startsWith(";;;")) {
    const room = width - (raw.indent ?? 0);
    let comment = stripCommentMarker(lines[0].content);
    for (k = 1; k < lines.length; k++) {
      const line = lines[k] as PhysLine;
      const marked = line.content.startsWith(";;;");
      if (!marked && startsProperties(line.content, knownKeys)) break;
      const next = marked ? stripCommentMarker(line.content) : line.content;
      comment += commentSeparator(comment, lines[k - 1] as PhysLine, next, width, room) + next;
    }
    record.comment = comment;
  }
  if (k < lines.length) {
    let text = (lines[k] as PhysLine).content;
    for (let j = k + 1; j < lines.length; j++) {
      const line = lines[j] as PhysLine;
      text +=
        joinSeparator(text, (lines[j - 1] as PhysLine).length >= width, line.content, knownKeys) +
        line.content;
    }
    record.props = tokenize(text);
  }
  return record;
}

const stripCommentMarker = (content: string): string => content.replace(/^;;; ?/, "");

/**
 * Comments are text, wrapped between words; a word longer than a whole line is cut at exactly the width.
 * So a line shorter than the width ended at a space, and a full line ended inside a word only when that
 * word (its part here plus its part on the next line) is longer than a line could hold.
 */
function commentSeparator(
  comment: string,
  prev: PhysLine,
  next: string,
  width: number,
  room: number,
): "" | " " {
  if (comment === "") return ""; // `;;;` alone on the first line, the text starts on the next
  if (prev.length < width) return " ";
  if (next.startsWith(" ")) return ""; // cut just before a space: the space is on this line
  const lastWord = prev.content.slice(prev.content.lastIndexOf(" ") + 1);
  const firstWord = next.split(" ", 1)[0] as string;
  return lastWord.length + firstWord.length <= room ? " " : "";
}

function startsProperties(content: string, knownKeys?: ReadonlySet<string>): boolean {
  const m = KEY_AT_START.exec(content);
  if (!m) return false;
  return knownKeys ? knownKeys.has(m[1] as string) : true;
}

/** Whether `text` ends inside an open quoted value, and its last space-separated chunk outside quotes. */
function scanTail(text: string): { inQuote: boolean; lastChunk: string } {
  let inQuote = false;
  let chunkStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === "\\") i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"' && text[i - 1] === "=") inQuote = true;
    else if (c === " ") chunkStart = i + 1;
  }
  return { inQuote, lastChunk: text.slice(chunkStart) };
}

function joinSeparator(
  text: string,
  prevAtWidth: boolean,
  next: string,
  knownKeys?: ReadonlySet<string>,
): "" | " " {
  if (!prevAtWidth) return " "; // rule 1
  const { inQuote, lastChunk } = scanTail(text);
  if (inQuote || text.endsWith("=")) return ""; // rules 2a, 2b
  const key = KEY_AT_START.exec(next)?.[1];
  if (key === undefined) return ""; // rule 2c
  if (!KEY_FRAGMENT.test(lastChunk)) return " "; // rule 2d
  if (knownKeys) {
    const glued = knownKeys.has(lastChunk + key);
    if (glued !== knownKeys.has(key)) return glued ? "" : " ";
  }
  return ""; // rule 2e
}

const KEY_STICKY = /([a-z.][a-z0-9.-]*)=/y;
const NEXT_KEY = / [a-z.][a-z0-9.-]*=/g;

/** `key=value key="quoted \"value\"" key=unquoted value with spaces` → Map. */
export function tokenize(text: string): Map<string, string> {
  const props = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    while (text[i] === " ") i++;
    if (i >= text.length) break;
    KEY_STICKY.lastIndex = i;
    const m = KEY_STICKY.exec(text);
    if (!m) throw new RdsParseError(`expected key=value at ${clip(text.slice(i))}`);
    const key = m[1] as string;
    i = KEY_STICKY.lastIndex;
    if (text[i] === '"') {
      const { value, end } = readQuoted(text, i);
      if (end < 0) throw new RdsParseError(`unterminated quoted value for ${key}`);
      if (end < text.length && text[end] !== " ")
        throw new RdsParseError(`text after the quoted value of ${key}`);
      props.set(key, value);
      i = end;
    } else {
      NEXT_KEY.lastIndex = i;
      const next = NEXT_KEY.exec(text);
      const end = next ? next.index : text.length;
      props.set(key, text.slice(i, end).trim());
      i = end;
    }
  }
  return props;
}

const clip = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
