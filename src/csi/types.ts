// Handler types for the three CSI services, derived from the generated proto types so that every
// request and response at the gRPC boundary is typed.
import type { handleUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "../observability/logger.ts";
import type { ControllerHandlers } from "./generated/csi/v1/Controller.ts";
import type { IdentityHandlers } from "./generated/csi/v1/Identity.ts";
import type { NodeHandlers } from "./generated/csi/v1/Node.ts";

export interface CallContext {
  method: string;
  requestId: string;
  log: Logger;
  /** Aborted when the client cancels the call or its deadline passes. */
  signal: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: conditional type extraction
type ReqOf<H> = H extends handleUnaryCall<infer Req, any> ? Req : never;
// biome-ignore lint/suspicious/noExplicitAny: conditional type extraction
type ResOf<H> = H extends handleUnaryCall<any, infer Res> ? Res : never;

// The generated handler interfaces extend an index-signature type; keep only the named RPCs.
export type UnaryImpl<H> = {
  [K in keyof H as string extends K ? never : K]: (
    request: ReqOf<H[K]>,
    ctx: CallContext,
  ) => Promise<ResOf<H[K]>>;
};

export type IdentityService = UnaryImpl<IdentityHandlers>;
export type ControllerService = UnaryImpl<ControllerHandlers>;
export type NodeService = UnaryImpl<NodeHandlers>;

export type { ControllerHandlers, IdentityHandlers, NodeHandlers };
