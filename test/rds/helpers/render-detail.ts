// Test-only renderer of RouterOS `print detail` output, written from docs/routeros.md §1.6b (independently
// of the simulator's renderer, so the parser is checked against two readings of the same spec):
//   - the item number right-aligned to the widest number, the flags field as wide as the widest flag
//     string, then one space; properties start at that column and continuation lines are indented to it;
//   - a `;;; comment` starts at the property column of the first line and wraps between words (a word longer
//     than a line is cut like a long token); properties continue on the next line;
//   - properties wrap at `width` between `key=value` tokens; a token longer than a whole line is split at
//     exactly the width: either after filling the current line ("fill") or from a fresh line ("fresh");
//   - records are separated by a line holding one space; lines end with CRLF; a `Flags:` legend lists
//     the flags present.
import type { FileDisk, Pool, RdsFile } from "../../../src/rds/types.ts";

export interface RenderRecord {
  flags: string;
  comment?: string;
  /** [key, value exactly as printed (already quoted when RouterOS quotes it)]. */
  props: Array<[string, string]>;
}

export interface RenderOptions {
  /** 0 = no wrapping. */
  width: number;
  split?: "fill" | "fresh";
  legend?: boolean;
  /** "line" (RouterOS: `;;; text` before the properties) or "prop" (a quoted `comment=` property at the end). */
  comments?: "line" | "prop";
}

const FLAG_NAMES: Record<string, string> = {
  X: "DISABLED",
  B: "BLOCK-DEVICE",
  M: "MOUNTED",
  r: "RAID-MEMBER",
  t: "NVME-TCP-EXPORT",
};

export const rosQuote = (s: string): string => `"${s.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;

/** 1099511627776 → `1 099 511 627 776`. */
export const groupDigits = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, " ");

/** §1.6f: one decimal, binary units, the largest unit in which the value is at least 10. */
export function humanize(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let unit = "";
  let value = bytes;
  for (const u of units) {
    if (value / 1024 < 10) break;
    value /= 1024;
    unit = u;
  }
  return unit === "" ? String(bytes) : `${value.toFixed(1)}${unit}`;
}

export function renderDetail(records: RenderRecord[], opts: RenderOptions): string {
  const numWidth = String(Math.max(0, records.length - 1)).length;
  const flagWidth = Math.max(0, ...records.map((r) => r.flags.length));
  const column = numWidth + 1 + (flagWidth > 0 ? flagWidth + 1 : 0);
  const out: string[] = [];
  if (opts.legend !== false) {
    const present = [...new Set(records.flatMap((r) => [...r.flags]))].filter((f) => f !== " ");
    if (present.length > 0)
      out.push(`Flags: ${present.map((f) => `${f} - ${FLAG_NAMES[f] ?? "FLAG"}`).join("; ")}`);
  }
  records.forEach((r, i) => {
    if (i > 0) out.push(" ");
    const head = `${String(i).padStart(numWidth)} ${flagWidth > 0 ? `${r.flags.padEnd(flagWidth)} ` : ""}`;
    const lines = [head];
    const props =
      opts.comments === "prop" && r.comment !== undefined
        ? [...r.props, ["comment", rosQuote(r.comment)]]
        : r.props;
    if (r.comment !== undefined && opts.comments !== "prop") {
      for (const word of [";;;", ...r.comment.split(" ")]) place(lines, word, column, opts);
      lines.push(" ".repeat(column));
    }
    for (const [k, v] of props) place(lines, `${k}=${v}`, column, opts);
    out.push(...lines.map((l) => l.replace(/\s+$/, "")));
  });
  return `${out.join("\r\n")}\r\n`;
}

/** Appends one token to the last line, wrapping as RouterOS does. */
function place(lines: string[], token: string, column: number, opts: RenderOptions): void {
  const width = opts.width;
  const last = () => lines[lines.length - 1] as string;
  const set = (s: string) => {
    lines[lines.length - 1] = s;
  };
  const empty = () => last().length <= column;
  const sep = () => (empty() ? "" : " ");
  if (width === 0 || last().length + sep().length + token.length <= width) {
    set(last() + sep() + token);
    return;
  }
  const room = width - column;
  if (token.length <= room) {
    lines.push(" ".repeat(column) + token);
    return;
  }
  let rest = token;
  if (opts.split === "fresh" && !empty()) lines.push(" ".repeat(column));
  else if (!empty()) {
    const free = width - last().length - 1;
    if (free > 0) {
      set(`${last()} ${rest.slice(0, free)}`);
      rest = rest.slice(free);
    }
    lines.push(" ".repeat(column));
  }
  while (rest.length > 0) {
    if (!empty()) lines.push(" ".repeat(column));
    set(last() + rest.slice(0, room));
    rest = rest.slice(room);
  }
}

/** A file disk as RouterOS 7.24 prints it (§1.6b property order; server-* only when exported). */
export function fileDiskRecord(d: FileDisk): RenderRecord {
  const props: Array<[string, string]> = [
    ["type", "file"],
    ["slot", rosQuote(d.slot)],
    ["slot-default", '""'],
    ["parent", '""'],
    ["fs", "-"],
    ["model", rosQuote(`/${d.filePath}`)],
    ["size", groupDigits(d.sizeBytes)],
    ["mount-filesystem", "no"],
    ["mount-read-only", "no"],
    ["compress", "no"],
    ["sector-size", "512"],
    ["raid-master", "none"],
    ["nvme-tcp-export", d.nvmeExport ? "yes" : "no"],
  ];
  if (d.nvmeExport) {
    props.push(
      ["nvme-tcp-server-port", String(d.nvmePort ?? 4420)],
      ["nvme-tcp-server-nqn", rosQuote(d.nqn ?? "")],
      ["nvme-tcp-server-allow-host-name", rosQuote(d.allowedHosts.join(","))],
    );
  }
  props.push(
    ["iscsi-export", "no"],
    ["nfs-sharing", "no"],
    ["smb-sharing", "no"],
    ["media-sharing", "no"],
    ["media-interface", "none"],
    ["swap", "no"],
    ["file-path", `/${d.filePath}`],
    ["file-size", humanize(d.sizeBytes)],
    ["file-offset", "0"],
  );
  const flags = `${d.disabled ? "X" : ""}B${d.nvmeExport ? "t" : ""}`;
  return d.comment === "" ? { flags, props } : { flags, comment: d.comment, props };
}

/** A RAID pool as on the RDS2216 sample. */
export function poolRecord(p: Pool): RenderRecord {
  return {
    flags: "BM",
    props: [
      ["type", "raid"],
      ["slot", rosQuote(p.slot)],
      ["slot-default", '""'],
      ["parent", '""'],
      ["fs-label", '"ocp-storage"'],
      ["fs", p.fs],
      ["model", '"RAID0 striped"'],
      ["size", groupDigits(p.sizeBytes)],
      ["free", groupDigits(p.freeBytes)],
      ["total-inodes", "1 562 806 656"],
      ["use", `${Math.round((100 * (p.sizeBytes - p.freeBytes)) / Math.max(1, p.sizeBytes))}%`],
      ["mount-point", rosQuote(p.mountPoint)],
      ["mount-filesystem", "yes"],
      ["state", '"clean"'],
      ["nvme-tcp-export", "no"],
    ],
  };
}

/** A `/file` entry (§4: names unquoted without a leading slash, `type=.img file` unquoted with a space). */
export function fileRecord(f: RdsFile): RenderRecord {
  const props: Array<[string, string]> = [
    ["name", f.name],
    ["type", f.type],
  ];
  if (f.sizeBytes !== undefined) props.push(["size", humanize(f.sizeBytes)]);
  props.push(["last-modified", "2026-09-25 12:13:27"]);
  return { flags: "", props };
}
