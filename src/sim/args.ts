// Typed access to command arguments, with RouterOS's complaints for bad values.
import type { Call } from "./commands.ts";
import { invalidValue, noMatchingValue } from "./errors.ts";
import { toText } from "./values.ts";

/** The text of an argument, or undefined when it was not given. */
export function argText(call: Call, name: string): string | undefined {
  const a = call.named.get(name);
  return a === undefined ? undefined : toText(a.value);
}

export function argBool(call: Call, name: string): boolean | undefined {
  const t = argText(call, name);
  if (t === undefined) return undefined;
  if (t === "yes" || t === "true") return true;
  if (t === "no" || t === "false") return false;
  throw noMatchingValue(name);
}

export function argInt(call: Call, name: string, min: number, max: number): number | undefined {
  const t = argText(call, name);
  if (t === undefined) return undefined;
  if (!/^\d+$/.test(t)) throw invalidValue(name);
  const n = Number(t);
  if (n < min || n > max) throw invalidValue(name);
  return n;
}

const SIZE_SUFFIX: Record<string, number> = {
  "": 1,
  k: 2 ** 10,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
};

/**
 * `file-size`: exact bytes or a binary K/M/G/T suffix (§1.2: `1G` = 1 073 741 824, `1T` prints as
 * 1024.0GiB). `auto` (and a missing value) mean "size of the existing file" → undefined.
 */
export function argFileSize(call: Call, name: string): number | undefined {
  const t = argText(call, name);
  if (t === undefined || t === "auto") return undefined;
  const m = /^(\d+)([kKMGT]?)$/.exec(t);
  if (!m) throw invalidValue(name);
  const bytes = Number(m[1]) * (SIZE_SUFFIX[m[2] ?? ""] ?? 1);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw invalidValue(name);
  return bytes;
}
