// The CSI gRPC transport: binds the endpoint, wraps every handler with request ids, structured logs,
// metrics and the single error → gRPC status mapping, and drains in-flight calls on shutdown.
import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { type Logger, redactRequest } from "../observability/logger.ts";
import { metrics } from "../observability/metrics.ts";
import { RdsError, type RdsErrorKind } from "../rds/types.ts";
import { CsiError } from "./errors.ts";
import { loadCsi } from "./proto.ts";
import type { CallContext, ControllerService, IdentityService, NodeService } from "./types.ts";

export interface Endpoint {
  /** What grpc-js binds to: `unix:///abs/path` or `host:port`. */
  bindAddress: string;
  socketPath?: string;
}

/** Parses `unix:///path/csi.sock`, `unix:/path`, `/path`, `tcp://host:port` or `host:port`. */
export function parseEndpoint(endpoint: string): Endpoint {
  if (endpoint.startsWith("unix://")) {
    const path = endpoint.slice("unix://".length);
    if (!path.startsWith("/")) throw new Error(`endpoint ${endpoint}: unix socket path must be absolute`);
    return { bindAddress: `unix://${path}`, socketPath: path };
  }
  if (endpoint.startsWith("unix:")) return parseEndpoint(`unix://${endpoint.slice(5)}`);
  if (endpoint.startsWith("/")) return parseEndpoint(`unix://${endpoint}`);
  const hostPort = endpoint.startsWith("tcp://") ? endpoint.slice("tcp://".length) : endpoint;
  if (!/^[\w.-]*:\d+$|^\[[\da-fA-F:]+\]:\d+$/.test(hostPort))
    throw new Error(`endpoint ${endpoint}: expected unix:///path or tcp://host:port`);
  return { bindAddress: hostPort };
}

/** Maps anything a handler throws to a gRPC status: CsiError keeps its code, the rest is INTERNAL. */
export function toGrpcStatus(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof CsiError) return { code: err.code, details: err.message };
  if (err instanceof RdsError) return { code: RDS_ERROR_CODES[err.kind], details: `RDS: ${err.message}` };
  if (err instanceof Error && err.name === "AbortError")
    return { code: grpc.status.CANCELLED, details: "operation cancelled" };
  const msg = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.INTERNAL, details: msg };
}

// Appliance errors that reach the transport unhandled. UNAVAILABLE makes the CO retry with back-off;
// a permission problem is the operator's to fix (the SSH user's group), not the caller's.
const RDS_ERROR_CODES: Record<RdsErrorKind, grpc.status> = {
  "not-found": grpc.status.NOT_FOUND,
  "no-space": grpc.status.RESOURCE_EXHAUSTED,
  exists: grpc.status.ALREADY_EXISTS,
  permission: grpc.status.FAILED_PRECONDITION,
  invalid: grpc.status.INTERNAL,
  unavailable: grpc.status.UNAVAILABLE,
  timeout: grpc.status.UNAVAILABLE,
  conflict: grpc.status.ABORTED, // a compare-and-set lost to a concurrent writer: the CO retries
  failure: grpc.status.INTERNAL,
};

// Handlers are typed where they are defined (src/csi/types.ts); here any handler is accepted: a
// parameter of type `never` accepts every request type.
type AnyHandler = (req: never, ctx: CallContext) => Promise<unknown>;

/** Called after a failed RPC has been answered (e.g. to post a Kubernetes Event); must not block. */
export type FailureHook = (method: string, request: unknown, err: unknown) => void;

export interface CsiServices {
  identity: IdentityService;
  controller?: ControllerService;
  node?: NodeService;
}

// Calls that fire constantly and change nothing are logged at debug, everything else at info.
const QUIET_METHODS = new Set([
  "Probe",
  "NodeGetCapabilities",
  "ControllerGetCapabilities",
  "GetPluginInfo",
  "GetPluginCapabilities",
  "NodeGetVolumeStats",
  "GetCapacity",
]);

export class CsiServer {
  readonly #server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  readonly #log: Logger;
  #endpoint?: Endpoint;
  readonly #inflight = new Set<AbortController>();
  readonly #onFailure?: FailureHook;

  constructor(services: CsiServices, log: Logger, opts: { onFailure?: FailureHook } = {}) {
    this.#log = log;
    this.#onFailure = opts.onFailure;
    const csi = loadCsi().csi.v1;
    this.#server.addService(csi.Identity.service, this.#wrap(services.identity));
    if (services.controller) this.#server.addService(csi.Controller.service, this.#wrap(services.controller));
    if (services.node) this.#server.addService(csi.Node.service, this.#wrap(services.node));
  }

  #wrap(impl: Record<string, AnyHandler>): grpc.UntypedServiceImplementation {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [method, fn] of Object.entries(impl)) {
      out[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        void this.#handle(method, fn, call, callback);
      };
    }
    return out;
  }

  async #handle(
    method: string,
    fn: AnyHandler,
    call: grpc.ServerUnaryCall<unknown, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ): Promise<void> {
    const started = performance.now();
    const requestId = (call.metadata.get("x-request-id")[0] as string | undefined) ?? randomUUID();
    const abort = new AbortController();
    this.#inflight.add(abort);
    // grpc-js also emits "cancelled" when the stream closes after the reply; only a cancel before it counts
    // (building the Error for every finished call showed up in profiles).
    const onCancelled = () => abort.abort(new Error("call cancelled by client"));
    call.on("cancelled", onCancelled);
    const req = call.request as Record<string, unknown>;
    const volumeId = (req?.volume_id as string | undefined) || (req?.name as string | undefined) || undefined;
    const log = this.#log.child({ method, requestId, ...(volumeId ? { volumeId } : {}) });
    const quiet = QUIET_METHODS.has(method);
    const level = quiet ? "debug" : "info";
    const verbose = log.isLevelEnabled(level); // redacting a request costs more than the call itself on a fast path
    if (verbose) log[level]({ request: redactRequest(req) }, "call");
    try {
      const res = await fn(req as never, { method, requestId, log, signal: abort.signal });
      const seconds = (performance.now() - started) / 1000;
      metrics.rpcTotal.inc({ method, code: "OK" });
      metrics.rpcDuration.observe({ method, code: "OK" }, seconds);
      if (verbose)
        log[level](
          { ms: Math.round(seconds * 1000), ...(quiet ? {} : { response: redactRequest(res) }) },
          "ok",
        );
      callback(null, res);
    } catch (err) {
      const { code, details } = toGrpcStatus(err);
      const codeName = grpc.status[code] ?? String(code);
      const seconds = (performance.now() - started) / 1000;
      metrics.rpcTotal.inc({ method, code: codeName });
      metrics.rpcDuration.observe({ method, code: codeName }, seconds);
      const fields = { ms: Math.round(seconds * 1000), code: codeName, details };
      if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN)
        log.error({ ...fields, err }, "failed");
      else log.warn(fields, "failed");
      callback({ code, details, metadata: new grpc.Metadata() });
      try {
        this.#onFailure?.(method, req, err);
      } catch (hookErr) {
        log.warn({ err: hookErr }, "failure hook threw"); // reporting must never change an RPC's outcome
      }
    } finally {
      this.#inflight.delete(abort);
      call.removeListener("cancelled", onCancelled);
    }
  }

  /** Binds and starts serving. A stale unix socket left by a crash is removed first. */
  async listen(endpoint: string): Promise<string> {
    const ep = parseEndpoint(endpoint);
    if (ep.socketPath && existsSync(ep.socketPath)) rmSync(ep.socketPath, { force: true });
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(ep.bindAddress, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.#endpoint = ep;
    const address = ep.socketPath ? `unix://${ep.socketPath}` : ep.bindAddress.replace(/:0$/, `:${port}`);
    this.#log.info({ endpoint: address }, "CSI endpoint listening");
    return address;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  /** Stops accepting calls, lets in-flight ones finish until the deadline, then forces, then removes the socket. */
  async shutdown(deadlineMs = 30_000): Promise<void> {
    const log = this.#log;
    log.info({ inflight: this.#inflight.size, deadlineMs }, "draining CSI server");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        log.warn({ inflight: this.#inflight.size }, "drain deadline passed; cancelling in-flight calls");
        for (const a of this.#inflight) a.abort(new Error("server shutting down"));
        this.#server.forceShutdown();
        resolve();
      }, deadlineMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.#endpoint?.socketPath) rmSync(this.#endpoint.socketPath, { force: true });
    log.info("CSI server stopped");
  }
}
