// CSI int64 fields arrive as decimal strings (proto-loader `longs: String`). Comparing them as strings
// is a classic bug ("9000000000" > "10000000000"), so they become numbers here, at the edge, and
// anything that is not a safe non-negative integer is refused.
import { invalidArgument } from "./errors.ts";

export function toBytes(value: string | number | undefined | null, field: string): number {
  if (value === undefined || value === null || value === "") return 0;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw invalidArgument(`${field} must be a non-negative integer, got ${String(value)}`);
  return n;
}
