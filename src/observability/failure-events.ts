// Which failed RPCs become Kubernetes Events, about which object. Only failures an operator must act on:
// the CO retries everything else by itself, and an Event per retry would bury the ones that matter.
// The reasons are either tagged where the error is thrown (tagEvent) or recognised here from the error's
// type (a full pool is RESOURCE_EXHAUSTED, a refused RouterOS command is RdsError "permission").
import { hostname } from "node:os";
import { Code, CsiError } from "../csi/errors.ts";
import { RdsError } from "../rds/types.ts";
import {
  EventReason,
  type EventRecorder,
  type EventTarget,
  eventReasonOf,
  LogEventSink,
  type OperatorEvent,
  ThrottledEventRecorder,
  type ThrottleSettings,
} from "./events.ts";
import { inCluster, KubeEventSink } from "./kube-events.ts";

export { EventReason };

import type { Logger } from "./logger.ts";

/** Keys the external-provisioner adds with --extra-create-metadata, and kubelet with podInfoOnMount. */
const PVC_NAME = "csi.storage.k8s.io/pvc/name";
const PVC_NAMESPACE = "csi.storage.k8s.io/pvc/namespace";
const POD_NAME = "csi.storage.k8s.io/pod.name";
const POD_NAMESPACE = "csi.storage.k8s.io/pod.namespace";
const POD_UID = "csi.storage.k8s.io/pod.uid";

export interface FailureContext {
  /** Set on the node side: the Node object is the last resort for node failures. */
  nodeId?: string;
}

function reasonFor(method: string, err: unknown): string | undefined {
  const tagged = eventReasonOf(err);
  if (tagged) return tagged;
  if (
    err instanceof CsiError &&
    err.code === Code.RESOURCE_EXHAUSTED &&
    (method === "CreateVolume" || method === "ControllerExpandVolume")
  )
    return EventReason.poolFull;
  if (err instanceof RdsError && err.kind === "permission") return EventReason.permissionDenied;
  // An RDS failure can be wrapped by a CsiError; the tag or kind on the cause counts too.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause && cause !== err) {
    const r = eventReasonOf(cause);
    if (r) return r;
    if (cause instanceof RdsError && cause.kind === "permission") return EventReason.permissionDenied;
  }
  return undefined;
}

function targetsFor(method: string, req: Record<string, unknown>, ctx: FailureContext): EventTarget[] {
  const out: EventTarget[] = [];
  const params = (req.parameters ?? {}) as Record<string, string>;
  if (params[PVC_NAME] && params[PVC_NAMESPACE])
    out.push({ kind: "pvc", namespace: params[PVC_NAMESPACE], name: params[PVC_NAME] });
  if (typeof req.volume_id === "string" && req.volume_id)
    out.push({ kind: "volume", volumeId: req.volume_id });
  const vc = (req.volume_context ?? {}) as Record<string, string>;
  if (vc[POD_NAME] && vc[POD_NAMESPACE])
    out.push({
      kind: "pod",
      namespace: vc[POD_NAMESPACE],
      name: vc[POD_NAME],
      ...(vc[POD_UID] ? { uid: vc[POD_UID] } : {}),
    });
  if (ctx.nodeId && method.startsWith("Node")) out.push({ kind: "node", name: ctx.nodeId });
  return out;
}

/** The Event for a failed RPC, or undefined when the failure is not one an operator must act on. */
export function eventForFailure(
  method: string,
  request: unknown,
  err: unknown,
  ctx: FailureContext = {},
): OperatorEvent | undefined {
  const reason = reasonFor(method, err);
  if (!reason) return undefined;
  const req = (typeof request === "object" && request !== null ? request : {}) as Record<string, unknown>;
  const targets = targetsFor(method, req, ctx);
  if (targets.length === 0) return undefined;
  const detail = err instanceof Error ? err.message : String(err);
  return { type: "Warning", reason, message: `${method}: ${detail}`, targets };
}

/**
 * The node plugin could not start. A FAILED_PRECONDITION from the nvme-tcp transport's start-up check
 * means the kernel or the tools lack NVMe/TCP (`rds-csi doctor --node` says which and how to fix it).
 */
export function eventForNodeStartFailure(
  err: unknown,
  o: { nodeId: string; transport: string },
): OperatorEvent | undefined {
  const tagged = eventReasonOf(err);
  const nvme = o.transport === "nvme-tcp" && err instanceof CsiError && err.code === Code.FAILED_PRECONDITION;
  const reason = tagged ?? (nvme ? EventReason.nvmeTcpUnavailable : undefined);
  if (!reason) return undefined;
  const detail = err instanceof Error ? err.message : String(err);
  return {
    type: "Warning",
    reason,
    message: `rds-csi node plugin cannot start: ${detail} Run \`rds-csi doctor --node\` on the node for details.`,
    targets: [{ kind: "node", name: o.nodeId }],
  };
}

/** The CsiServer failure hook: classify, record, never throw. */
export function failureReporter(recorder: EventRecorder, ctx: FailureContext = {}) {
  return (method: string, request: unknown, err: unknown): void => {
    const e = eventForFailure(method, request, err, ctx);
    if (e) recorder.record(e);
  };
}

export interface RecorderOptions {
  driverName: string;
  /** `controller`, `node` or `all`. */
  mode: string;
  nodeId?: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  throttle?: ThrottleSettings;
}

/** In a pod with a service account: Events through the API server. Elsewhere: log lines. */
export function createEventRecorder(o: RecorderOptions): EventRecorder {
  const env = o.env ?? process.env;
  const log = o.log.child({ component: "events" });
  if (!inCluster(env)) return new ThrottledEventRecorder(new LogEventSink(log), log, o.throttle);
  const sink = new KubeEventSink({
    apiHost: env.KUBERNETES_SERVICE_HOST as string,
    apiPort: Number(env.KUBERNETES_SERVICE_PORT ?? 443),
    component: `rds-csi-${o.mode}`,
    reportingComponent: o.driverName,
    instance: o.nodeId ?? hostname(),
  });
  return new ThrottledEventRecorder(sink, log, o.throttle);
}
