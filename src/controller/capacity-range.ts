// Turns a CSI capacity range into the exact byte size to allocate. Sizes are aligned up for the block
// layer (1 MiB when the limit allows, else 4 KiB, else 512 B) but never past limit_bytes.
import { outOfRange } from "../csi/errors.ts";
import { toBytes } from "../csi/int64.ts";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const DEFAULT_VOLUME_BYTES = GiB;
export const MIN_VOLUME_BYTES = MiB;

export interface CapacityRangeInput {
  required_bytes?: string | number;
  limit_bytes?: string | number;
}

export interface ResolvedRange {
  required: number;
  limit: number; // 0 = none
  size: number;
}

export function resolveCapacity(range: CapacityRangeInput | null | undefined): ResolvedRange {
  const required = toBytes(range?.required_bytes, "capacity_range.required_bytes");
  const limit = toBytes(range?.limit_bytes, "capacity_range.limit_bytes");
  if (limit && required > limit) throw outOfRange(`required_bytes ${required} exceeds limit_bytes ${limit}`);
  const want = Math.max(
    required || (limit ? Math.min(DEFAULT_VOLUME_BYTES, limit) : DEFAULT_VOLUME_BYTES),
    MIN_VOLUME_BYTES,
  );
  for (const align of [MiB, 4096, 512]) {
    const size = Math.ceil(want / align) * align;
    if (!limit || size <= limit) return { required, limit, size };
  }
  throw outOfRange(
    `no size of at least ${want} bytes (${MIN_VOLUME_BYTES} minimum, 512-byte sectors) fits limit_bytes ${limit}`,
  );
}

/** Does an existing volume of `size` satisfy the range? (CreateVolume idempotency.) */
export function sizeFits(size: number, r: ResolvedRange): boolean {
  return size >= r.required && (!r.limit || size <= r.limit);
}
