// `/system resource print` (a singleton menu: right-aligned `key: value` lines) and the package list.
import type { DetailRecord } from "./print-detail.ts";
import { RdsParseError } from "./values.ts";

/** `                  version: 7.24.1 (stable)` → Map { version → "7.24.1 (stable)" }. */
export function parseSingleton(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.replace(/\r/g, "").split("\n")) {
    if (line.trim() === "") continue;
    const m = /^\s*([a-z][a-z0-9-]*): ?(.*)$/.exec(line);
    if (!m)
      throw new RdsParseError(`unexpected line in key: value output: ${JSON.stringify(line.slice(0, 80))}`);
    out.set(m[1] as string, (m[2] as string).trim());
  }
  return out;
}

/** `7.24.1 (stable)` → `7.24.1`; the channel in parentheses is dropped. */
export function versionNumber(raw: string): string {
  const m = /^\s*(\d+(?:\.\d+)*(?:(?:beta|rc)\d+)?)/.exec(raw);
  if (!m) throw new RdsParseError(`unexpected RouterOS version ${JSON.stringify(raw)}`);
  return m[1] as string;
}

/** Names of installed, enabled packages from `/system package print detail` records. */
export function packageNames(records: DetailRecord[]): string[] {
  return records
    .filter((r) => !r.flags.includes("X") && r.props.get("disabled") !== "yes")
    .map((r) => r.props.get("name"))
    .filter((n): n is string => n !== undefined && n !== "");
}
