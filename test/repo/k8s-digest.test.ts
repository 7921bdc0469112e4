// test/k8s/cluster/digest.ts is what a CI page shows of a failed real-cluster step ("timed out waiting for
// the condition" alone explained nothing of a failed helm install step). Given what collect.sh keeps, it
// must name the pod that is stuck, why (container state, events, logs, kubelet errors), the workload short
// of replicas, and leave healthy pods out.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = resolve(import.meta.dirname, "../k8s/cluster/digest.ts");
const dir = mkdtempSync(join(tmpdir(), "digest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const artefacts = join(dir, "artefacts");
const logs = join(dir, "logs");
mkdirSync(artefacts);
mkdirSync(logs);
const write = (d: string, name: string, body: unknown) =>
  writeFileSync(join(d, name), typeof body === "string" ? body : JSON.stringify({ items: body }));

const ready = (status: "True" | "False") => [{ type: "Ready", status }];
write(artefacts, "nodes.json", [
  { metadata: { name: "vm" }, status: { conditions: ready("True") } },
  {
    metadata: { name: "vm-b" },
    spec: { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] },
    status: { conditions: ready("False") },
  },
]);
write(artefacts, "workloads.json", [
  {
    kind: "Deployment",
    metadata: { name: "snapshot-controller", namespace: "kube-system" },
    spec: { replicas: 1 },
    status: {
      replicas: 1,
      availableReplicas: 0,
      conditions: [
        {
          type: "Available",
          status: "False",
          reason: "MinimumReplicasUnavailable",
          message: "Deployment does not have minimum availability.",
        },
      ],
    },
  },
  {
    kind: "DaemonSet",
    metadata: { name: "rds-csi-node", namespace: "rds-csi" },
    status: { desiredNumberScheduled: 3, numberAvailable: 3 },
  },
]);
write(artefacts, "pods.json", [
  {
    metadata: {
      name: "snapshot-controller-947d978f-x1",
      namespace: "kube-system",
      ownerReferences: [{ kind: "ReplicaSet", name: "snapshot-controller-947d978f" }],
    },
    spec: { nodeName: "vm-b", containers: [{ name: "snapshot-controller" }] },
    status: {
      phase: "Pending",
      conditions: [
        { type: "Ready", status: "False", message: "containers with unready status: [snapshot-controller]" },
      ],
      containerStatuses: [
        {
          name: "snapshot-controller",
          restartCount: 3,
          state: {
            waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" },
          },
          lastState: { terminated: { reason: "Error", exitCode: 1 } },
        },
      ],
    },
  },
  {
    metadata: { name: "rds-csi-node-abcde", namespace: "rds-csi" },
    spec: { nodeName: "vm", containers: [{ name: "node" }] },
    status: { phase: "Running", conditions: ready("True") },
  },
  { metadata: { name: "done-job", namespace: "s01" }, status: { phase: "Succeeded" } },
  {
    // what the fresh-clone run of ff6320e showed on a host whose disk was full
    metadata: { name: "snapshot-controller-947d978f-ev", namespace: "kube-system" },
    spec: { nodeName: "vm-c", containers: [{ name: "snapshot-controller" }] },
    status: {
      phase: "Failed",
      reason: "Evicted",
      message: "The node was low on resource: ephemeral-storage.",
    },
  },
]);
write(artefacts, "events.json", [
  {
    type: "Warning",
    reason: "BackOff",
    count: 4,
    message: "Back-off restarting failed container",
    lastTimestamp: "2026-12-06T20:18:00Z",
    involvedObject: { kind: "Pod", name: "snapshot-controller-947d978f-x1", namespace: "kube-system" },
  },
  {
    type: "Normal",
    reason: "Scheduled",
    message: "Successfully assigned kube-system/snapshot-controller-947d978f-x1 to vm-b",
    lastTimestamp: "2026-12-06T20:17:00Z",
    involvedObject: { kind: "Pod", name: "snapshot-controller-947d978f-x1", namespace: "kube-system" },
  },
]);
write(
  artefacts,
  "logs-kube-system-snapshot-controller-947d978f-x1-snapshot-controller.previous.txt",
  "E1206 main.go:236] Exiting due to failure to ensure CRDs exist during startup\n",
);
write(artefacts, "logs-rds-csi-rds-csi-node-abcde-node.txt", "a healthy pod's log line\n");
write(
  logs,
  "kubelet-b.log",
  'I1206 20:17:01 kubelet.go:1] "SyncLoop ADD" pods=["kube-system/snapshot-controller-947d978f-x1"]\nE1206 20:17:02 pod_workers.go:1] "Error syncing pod" pod="kube-system/snapshot-controller-947d978f-x1"\n',
);
write(
  logs,
  "kube-controller-manager.log",
  'E1206 20:17:00 replica_set.go:640] sync "kube-system/snapshot-controller-947d978f" failed\n',
);

const out = execFileSync(process.execPath, [SCRIPT, artefacts, logs], { encoding: "utf8" });

describe("the k8s failure digest", () => {
  it("names the nodes that are not Ready and their taints", () => {
    expect(out).toContain("nodes: 2, not Ready: vm-b");
    expect(out).toContain("vm-b taints: node.kubernetes.io/not-ready:NoSchedule");
  });
  it("lists the workload short of replicas with its condition, not the complete one", () => {
    expect(out).toContain("Deployment kube-system/snapshot-controller: 0/1 available, 1 created");
    expect(out).toContain(
      "Available=False MinimumReplicasUnavailable: Deployment does not have minimum availability.",
    );
    expect(out).not.toContain("DaemonSet rds-csi/rds-csi-node");
  });
  it("shows the stuck pod's node, container state, events, previous logs and the errors that name it", () => {
    expect(out).toContain("pods: 4, not Running and Ready: 2");
    expect(out).toContain("pod kube-system/snapshot-controller-947d978f-x1 on vm-b: Pending");
    expect(out).toContain(
      "container snapshot-controller: waiting, CrashLoopBackOff, back-off 40s restarting failed container, 3 restarts, last: terminated Error exit 1",
    );
    expect(out).toContain("event Warning BackOff (x4): Back-off restarting failed container");
    expect(out).toContain(
      "[snapshot-controller (previous)] E1206 main.go:236] Exiting due to failure to ensure CRDs exist",
    );
    expect(out).toContain('kubelet-b: E1206 20:17:02 pod_workers.go:1] "Error syncing pod"');
    expect(out).not.toContain("SyncLoop ADD");
    expect(out).toContain(
      'kube-controller-manager: E1206 20:17:00 replica_set.go:640] sync "kube-system/snapshot-controller-947d978f" failed',
    );
  });
  it("says why a pod was evicted", () => {
    expect(out).toContain(
      "pod kube-system/snapshot-controller-947d978f-ev on vm-c: Failed Evicted The node was low on resource: ephemeral-storage.",
    );
  });
  it("leaves healthy and finished pods out and ends with the latest warnings", () => {
    expect(out).not.toContain("a healthy pod's log line");
    expect(out).not.toContain("done-job");
    expect(out).toMatch(
      /latest Warning events:\n {2}2026-12-06T20:18:00Z Pod\/kube-system\/snapshot-controller-947d978f-x1 BackOff/,
    );
  });
});
