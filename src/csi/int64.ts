// CSI int64 fields arrive as decimal strings (proto-loader `longs: String`). Comparing them as strings
// is a classic bug ("9000000000" > "10000000000"), so they become numbers here, at the edge, and
// anything that is not a safe non-negative integer is refused.
// A well-formed int64 beyond 2^53 - 1 (9 PiB) is a valid request for more than this driver can address:
// OUT_OF_RANGE, as the spec says for sizes it cannot provide, not INVALID_ARGUMENT.
import { invalidArgument, outOfRange } from "./errors.ts";

export function toBytes(value: string | number | undefined | null, field: string): number {
  if (value === undefined || value === null || value === "") return 0;
  const text = String(value);
  if (!/^\d+$/.test(text)) throw invalidArgument(`${field} must be a non-negative integer, got ${text}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n))
    throw outOfRange(
      `${field} ${text} is larger than ${Number.MAX_SAFE_INTEGER} bytes, which this driver cannot provide`,
    );
  return n;
}
