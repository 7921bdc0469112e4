#!/usr/bin/env bash
# Keeps what explains a failure under out/k8s/artefacts/: describe and events of every namespace, every
# pod's logs (current and previous containers), nodes, PVs, PVCs, CSI objects, the simulator's disks.
# kubelet, containerd and control-plane logs are already in out/k8s/logs/. Then prints a digest of what is
# wrong (cluster/digest.ts) on stdout: a CI page shows only what was printed. Usage: collect.sh [STEP]
source "$(dirname "$0")/../lib/common.sh"
set +e
A=$OUT/artefacts && mkdir -p "$A"
k get --raw /readyz >/dev/null 2>&1 || { log "collect: API server down, only process logs kept"; exit 0; }
k get all,pvc,pv,storageclass,csidriver,csinode,csistoragecapacity,volumeattachment,volumesnapshot,volumesnapshotcontent -A -o wide >"$A/objects.txt" 2>&1
k describe nodes >"$A/nodes.txt" 2>&1
k get events -A --sort-by=.lastTimestamp >"$A/events.txt" 2>&1
for ns in $(k get ns -o name | cut -d/ -f2); do
  k -n "$ns" describe pods,pvc >"$A/describe-$ns.txt" 2>&1
  for p in $(k -n "$ns" get pods -o name | cut -d/ -f2); do
    for c in $(k -n "$ns" get pod "$p" -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}'); do
      k -n "$ns" logs "$p" -c "$c" >"$A/logs-$ns-$p-$c.txt" 2>&1
      k -n "$ns" logs "$p" -c "$c" --previous >"$A/logs-$ns-$p-$c.previous.txt" 2>/dev/null || rm -f "$A/logs-$ns-$p-$c.previous.txt"
    done
  done
done
find "$SIM_DATA" -type f -printf '%s %p\n' >"$A/sim-files.txt" 2>&1
k get nodes -o json >"$A/nodes.json" 2>/dev/null
k get deployments,daemonsets,statefulsets -A -o json >"$A/workloads.json" 2>/dev/null
k get pods -A -o json >"$A/pods.json" 2>/dev/null
k get events -A -o json >"$A/events.json" 2>/dev/null
echo "---- what the cluster shows: ${1:-a step failed} (all of it: $A) ----"
node "$K8S_DIR/cluster/digest.ts" "$A" "$OUT/logs" 2>&1 | head -120
echo "----"
log "collect: artefacts in $A"
