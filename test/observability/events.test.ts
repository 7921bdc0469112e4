// Kubernetes Events: the recorder (dedup, rate limit, never blocking) and the Kubernetes sink against a
// local HTTPS API server stub, asserting on the exact core/v1 Event objects posted.
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code, CsiError, failedPrecondition, resourceExhausted, unavailable } from "../../src/csi/errors.ts";
import {
  EventReason,
  type OperatorEvent,
  ThrottledEventRecorder,
  tagEvent,
} from "../../src/observability/events.ts";
import {
  createEventRecorder,
  eventForFailure,
  eventForNodeStartFailure,
} from "../../src/observability/failure-events.ts";
import { KubeEventSink } from "../../src/observability/kube-events.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import { registry } from "../../src/observability/metrics.ts";
import { RdsError } from "../../src/rds/types.ts";
import { boundPv, type KubeStub, pvc, startKubeStub } from "./kube-stub.ts";

const NOW = new Date("2026-03-04T05:06:07.891Z");
const NANOS = BigInt(NOW.getTime()) * 1_000_000n;

let stub: KubeStub;
beforeEach(async () => {
  stub = await startKubeStub();
  registry.resetMetrics();
});
afterEach(async () => {
  await stub.close();
});

function sink(component = "rds-csi-controller", instance = "ctrl-host"): KubeEventSink {
  return new KubeEventSink({
    apiHost: stub.host,
    apiPort: stub.port,
    serviceAccountDir: stub.serviceAccountDir,
    component,
    reportingComponent: "rds.csi.mikrotik.com",
    instance,
    now: () => NOW,
  });
}

const poolFull = (targets: OperatorEvent["targets"]): OperatorEvent => ({
  type: "Warning",
  reason: "PoolFull",
  message: "CreateVolume: not enough space on pool storage-pool: 10737418240 bytes requested, 1048576 free",
  targets,
});

async function eventsTotal(): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric("rds_csi_events_total")?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [`${v.labels.reason}/${v.labels.result}`, v.value]));
}

describe("KubeEventSink against an API server stub", () => {
  it("posts the exact core/v1 Event for a PVC, with its uid looked up", async () => {
    stub.objects.set("/api/v1/namespaces/apps/persistentvolumeclaims/data", pvc("apps", "data", "uid-pvc-1"));
    const rec = new ThrottledEventRecorder(sink(), silentLogger);
    rec.record(poolFull([{ kind: "pvc", namespace: "apps", name: "data" }]));
    await rec.flush();
    expect(stub.events).toHaveLength(1);
    const e = stub.events[0]!;
    expect(e.path).toBe("/api/v1/namespaces/apps/events");
    expect(e.authorization).toBe(`Bearer ${stub.token}`);
    expect(e.contentType).toBe("application/json");
    expect(e.body).toEqual({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `data.${NANOS.toString(16)}`, namespace: "apps" },
      involvedObject: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        name: "data",
        namespace: "apps",
        uid: "uid-pvc-1",
      },
      reason: "PoolFull",
      message:
        "CreateVolume: not enough space on pool storage-pool: 10737418240 bytes requested, 1048576 free",
      type: "Warning",
      source: { component: "rds-csi-controller", host: "ctrl-host" },
      firstTimestamp: "2026-03-04T05:06:07Z",
      lastTimestamp: "2026-03-04T05:06:07Z",
      count: 1,
      reportingComponent: "rds.csi.mikrotik.com",
      reportingInstance: "rds-csi-controller-ctrl-host",
    });
    expect(await eventsTotal()).toEqual({ "PoolFull/posted": 1 });
  });

  it("a volume id resolves through the PV's claimRef; lookups are cached", async () => {
    stub.objects.set(
      "/api/v1/persistentvolumes/pvc-7",
      boundPv("pvc-7", { namespace: "db", name: "pg-data", uid: "uid-pg" }),
    );
    const s = sink("rds-csi-node", "worker-2");
    const rec = new ThrottledEventRecorder(s, silentLogger);
    rec.record({
      type: "Warning",
      reason: "FilesystemCorrupt",
      message: "m1",
      targets: [{ kind: "volume", volumeId: "pvc-7" }],
    });
    rec.record({
      type: "Warning",
      reason: "DeviceNotEmpty",
      message: "m2",
      targets: [{ kind: "volume", volumeId: "pvc-7" }],
    });
    await rec.flush();
    expect(
      stub.events.map((e) => [
        e.path,
        e.body.involvedObject,
        e.body.reason,
        (e.body.source as { host: string }).host,
      ]),
    ).toEqual([
      [
        "/api/v1/namespaces/db/events",
        { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "pg-data", namespace: "db", uid: "uid-pg" },
        "FilesystemCorrupt",
        "worker-2",
      ],
      [
        "/api/v1/namespaces/db/events",
        { apiVersion: "v1", kind: "PersistentVolumeClaim", name: "pg-data", namespace: "db", uid: "uid-pg" },
        "DeviceNotEmpty",
        "worker-2",
      ],
    ]);
    expect(stub.requests.filter((r) => r.startsWith("GET"))).toEqual(["GET /api/v1/persistentvolumes/pvc-7"]);
    // Two Events in the same nanosecond-stamped clock still get distinct names.
    expect(new Set(stub.events.map((e) => (e.body.metadata as { name: string }).name)).size).toBe(2);
  });

  it("falls back to the next target when one does not exist; a node Event goes to default with uid = node name", async () => {
    const rec = new ThrottledEventRecorder(sink("rds-csi-node", "worker-1"), silentLogger);
    rec.record({
      type: "Warning",
      reason: "FilesystemCorrupt",
      message: "NodeStageVolume: corrupt",
      targets: [
        { kind: "volume", volumeId: "csi-0123456789abcdef01234567" }, // not a Kubernetes PV
        { kind: "node", name: "worker-1" },
      ],
    });
    await rec.flush();
    expect(stub.events).toHaveLength(1);
    expect(stub.events[0]!.path).toBe("/api/v1/namespaces/default/events");
    expect(stub.events[0]!.body.involvedObject).toEqual({
      apiVersion: "v1",
      kind: "Node",
      name: "worker-1",
      uid: "worker-1",
    });
    expect((stub.events[0]!.body.metadata as { namespace: string }).namespace).toBe("default");
  });

  it("a pod from podInfoOnMount with its uid needs no lookup; nothing resolvable means no Event", async () => {
    const rec = new ThrottledEventRecorder(sink(), silentLogger);
    rec.record({
      type: "Warning",
      reason: "X",
      message: "m",
      targets: [{ kind: "pod", namespace: "ns", name: "p", uid: "uid-p" }],
    });
    rec.record({
      type: "Warning",
      reason: "Y",
      message: "m",
      targets: [{ kind: "pvc", namespace: "ns", name: "gone" }],
    });
    await rec.flush();
    expect(stub.events.map((e) => e.body.involvedObject)).toEqual([
      { apiVersion: "v1", kind: "Pod", name: "p", namespace: "ns", uid: "uid-p" },
    ]);
    expect(stub.requests.filter((r) => r.startsWith("GET"))).toEqual([
      "GET /api/v1/namespaces/ns/persistentvolumeclaims/gone",
    ]);
    expect(await eventsTotal()).toEqual({ "X/posted": 1, "Y/unresolved": 1 });
  });
});

describe("ThrottledEventRecorder", () => {
  it("deduplicates the same reason for the same object within the window, and posts again after it", async () => {
    stub.objects.set("/api/v1/namespaces/apps/persistentvolumeclaims/data", pvc("apps", "data", "u"));
    let now = 1_000_000;
    const rec = new ThrottledEventRecorder(sink(), silentLogger, { dedupWindowMs: 60_000, now: () => now });
    const e = poolFull([{ kind: "pvc", namespace: "apps", name: "data" }]);
    rec.record(e);
    rec.record(e);
    rec.record({ ...e, message: "another wording of the same problem" });
    now += 60_000;
    rec.record(e);
    await rec.flush();
    expect(stub.events).toHaveLength(2);
    expect(await eventsTotal()).toEqual({ "PoolFull/posted": 2, "PoolFull/deduplicated": 2 });
  });

  it("rate-limits bursts with a token bucket", async () => {
    let now = 0;
    const rec = new ThrottledEventRecorder(sink(), silentLogger, {
      burst: 2,
      refillMs: 1000,
      now: () => now,
    });
    const ev = (i: number): OperatorEvent => ({
      type: "Warning",
      reason: "R",
      message: `${i}`,
      targets: [{ kind: "node", name: `n${i}` }],
    });
    for (let i = 0; i < 5; i++) rec.record(ev(i));
    now += 1000; // one token back
    rec.record(ev(5));
    rec.record(ev(6));
    await rec.flush();
    expect(stub.events.map((e) => e.body.message)).toEqual(["0", "1", "5"]);
    expect(await eventsTotal()).toEqual({ "R/posted": 3, "R/rate_limited": 4 });
  });

  it("never blocks or throws: a refusing API counts as failed and the next occurrence is tried again", async () => {
    stub.eventStatus = 500;
    const rec = new ThrottledEventRecorder(sink(), silentLogger);
    const e: OperatorEvent = {
      type: "Warning",
      reason: "R",
      message: "m",
      targets: [{ kind: "node", name: "n" }],
    };
    expect(rec.record(e)).toBeUndefined(); // synchronous, whatever the API does
    await rec.flush();
    stub.eventStatus = 201;
    rec.record(e);
    await rec.flush();
    expect(stub.events).toHaveLength(1);
    expect(await eventsTotal()).toEqual({ "R/failed": 1, "R/posted": 1 });
  });

  it("an API that does not answer is abandoned after the delivery timeout", async () => {
    // A TCP server that accepts and never speaks TLS: the request hangs until the recorder gives up.
    const { createServer } = await import("node:net");
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const hanging = new KubeEventSink({
      apiHost: "127.0.0.1",
      apiPort: port,
      serviceAccountDir: stub.serviceAccountDir,
      component: "c",
      reportingComponent: "r",
    });
    const rec = new ThrottledEventRecorder(hanging, silentLogger, { deliveryTimeoutMs: 200 });
    rec.record({ type: "Warning", reason: "R", message: "m", targets: [{ kind: "node", name: "n" }] });
    await rec.flush(30_000);
    expect(await eventsTotal()).toEqual({ "R/failed": 1 });
    silent.close();
  });

  it("after close() nothing is accepted", async () => {
    const rec = new ThrottledEventRecorder(sink(), silentLogger);
    await rec.close();
    rec.record({ type: "Warning", reason: "R", message: "m", targets: [{ kind: "node", name: "n" }] });
    await rec.flush();
    expect(stub.events).toEqual([]);
    expect(await eventsTotal()).toEqual({ "R/dropped": 1 });
  });

  it("outside a cluster Events become log lines", async () => {
    const lines: string[] = [];
    const dest = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ destination: dest });
    const rec = createEventRecorder({ driverName: "rds.csi.mikrotik.com", mode: "controller", log, env: {} });
    rec.record(poolFull([{ kind: "pvc", namespace: "apps", name: "data" }]));
    await rec.flush();
    const line = JSON.parse(lines.find((l) => l.includes("PoolFull")) ?? "{}");
    expect(line).toMatchObject({
      level: "warn",
      component: "events",
      event: "PoolFull",
      targets: ["pvc:apps/data"],
      msg: "CreateVolume: not enough space on pool storage-pool: 10737418240 bytes requested, 1048576 free",
    });
    expect(rec).toBeInstanceOf(ThrottledEventRecorder);
  });
});

describe("which failures become Events", () => {
  const create = {
    name: "pvc-1",
    parameters: { "csi.storage.k8s.io/pvc/name": "data", "csi.storage.k8s.io/pvc/namespace": "apps" },
  };

  it("CreateVolume on a full pool → PoolFull on the PVC named by --extra-create-metadata", () => {
    expect(eventForFailure("CreateVolume", create, resourceExhausted("not enough space"))).toEqual({
      type: "Warning",
      reason: "PoolFull",
      message: "CreateVolume: not enough space",
      targets: [{ kind: "pvc", namespace: "apps", name: "data" }],
    });
  });

  it("a refused host key (tagged on the error or on its cause) → RDSHostKeyMismatch", () => {
    const direct = tagEvent(
      new RdsError("unavailable", "RDS host key SHA256:x does not match the pinned key"),
      EventReason.hostKeyMismatch,
    );
    expect(eventForFailure("CreateVolume", create, direct)?.reason).toBe("RDSHostKeyMismatch");
    const wrapped = new RdsError("unavailable", "RDS unreachable, next SSH attempt in 200 ms", {
      cause: direct,
    });
    expect(eventForFailure("ControllerPublishVolume", { volume_id: "pvc-1" }, wrapped)).toMatchObject({
      reason: "RDSHostKeyMismatch",
      targets: [{ kind: "volume", volumeId: "pvc-1" }],
    });
  });

  it("RouterOS 'not enough permissions' → RDSPermissionDenied", () => {
    const e = new RdsError("permission", "RouterOS: not enough permissions (9)");
    expect(eventForFailure("DeleteVolume", { volume_id: "pvc-1" }, e)?.reason).toBe("RDSPermissionDenied");
  });

  it("node failures target the volume's PVC, then the pod (podInfoOnMount), then the Node", () => {
    const err = tagEvent(
      failedPrecondition("the ext4 filesystem of volume pvc-1 failed the read-only check"),
      EventReason.filesystemCorrupt,
    );
    const req = {
      volume_id: "pvc-1",
      volume_context: {
        "csi.storage.k8s.io/pod.name": "web-0",
        "csi.storage.k8s.io/pod.namespace": "apps",
        "csi.storage.k8s.io/pod.uid": "uid-web-0",
      },
    };
    expect(eventForFailure("NodePublishVolume", req, err, { nodeId: "worker-1" })?.targets).toEqual([
      { kind: "volume", volumeId: "pvc-1" },
      { kind: "pod", namespace: "apps", name: "web-0", uid: "uid-web-0" },
      { kind: "node", name: "worker-1" },
    ]);
  });

  it("what the CO retries by itself is not an Event", () => {
    expect(
      eventForFailure("NodeStageVolume", { volume_id: "pvc-1" }, unavailable("nvme connect timed out"), {
        nodeId: "n",
      }),
    ).toBeUndefined();
    expect(eventForFailure("CreateVolume", create, new CsiError(Code.ABORTED, "busy"))).toBeUndefined();
    expect(eventForFailure("CreateVolume", create, new Error("bug"))).toBeUndefined();
    expect(eventForFailure("NodeGetVolumeStats", { volume_id: "x" }, resourceExhausted("?"))).toBeUndefined();
  });

  it("a node plugin that cannot start for lack of NVMe/TCP → NVMeTCPUnavailable on the Node", () => {
    const err = failedPrecondition(
      "NVMe/TCP is not available on this node: kernel module nvme_tcp is not loaded.",
    );
    expect(eventForNodeStartFailure(err, { nodeId: "worker-1", transport: "nvme-tcp" })).toEqual({
      type: "Warning",
      reason: "NVMeTCPUnavailable",
      message:
        "rds-csi node plugin cannot start: NVMe/TCP is not available on this node: kernel module nvme_tcp is not loaded. Run `rds-csi doctor --node` on the node for details.",
      targets: [{ kind: "node", name: "worker-1" }],
    });
    expect(eventForNodeStartFailure(err, { nodeId: "worker-1", transport: "loop" })).toBeUndefined();
  });
});
