// Domain errors carry a gRPC status code; the transport (src/csi/server.ts) is the one place that
// turns any thrown value into a gRPC status, so handlers simply `throw new CsiError(...)`.
import { status } from "@grpc/grpc-js";

export { status as Code };

export class CsiError extends Error {
  readonly code: status;
  constructor(code: status, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CsiError";
    this.code = code;
  }
}

export const invalidArgument = (msg: string) => new CsiError(status.INVALID_ARGUMENT, msg);
export const notFound = (msg: string) => new CsiError(status.NOT_FOUND, msg);
export const alreadyExists = (msg: string) => new CsiError(status.ALREADY_EXISTS, msg);
export const failedPrecondition = (msg: string) => new CsiError(status.FAILED_PRECONDITION, msg);
export const aborted = (msg: string) => new CsiError(status.ABORTED, msg);
export const outOfRange = (msg: string) => new CsiError(status.OUT_OF_RANGE, msg);
export const resourceExhausted = (msg: string) => new CsiError(status.RESOURCE_EXHAUSTED, msg);
export const unavailable = (msg: string) => new CsiError(status.UNAVAILABLE, msg);
export const internal = (msg: string, cause?: unknown) => new CsiError(status.INTERNAL, msg, { cause });
export const unimplemented = (msg: string) => new CsiError(status.UNIMPLEMENTED, msg);

/** Required string field: missing or empty → INVALID_ARGUMENT naming the field. */
export function required(value: string | undefined | null, field: string): string {
  if (value === undefined || value === null || value === "") throw invalidArgument(`${field} is required`);
  return value;
}
