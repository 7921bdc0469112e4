#!/usr/bin/env bash
# Scenario 11 (issue 16.3): node loss. A pod writes to a ReadWriteOnce volume on node B, fsync'ing each
# record and printing "acked N" after it. Node B is lost: its pods are frozen, its kubelet and kube-proxy
# killed, its link to the cluster (API server and appliance) cut. The operator marks it out of service;
# Kubernetes force-deletes the pod and force-detaches the volume, the Deployment's new pod starts on
# another node and finds every acknowledged record. Then node B comes back with its stale pod and mount:
# its kubelet and plugin tear them down, nothing of B writes to the volume again, and e2fsck of the
# volume stays clean.
#
# The loop transport has no network between a node and its disk, so cutting B's link does not cut B's
# I/O; with NVMe/TCP the appliance does, when ControllerUnpublishVolume takes B's host NQN off the export
# (the VM suite proves that on real nvmet). The harness plays that cut where it happens to B: it shuts B's
# filesystem down without flushing (FS_IOC_SHUTDOWN, NOLOGFLUSH), so, as on a cut session, nothing B had
# not written before reaches the disk.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
source "$K8S_DIR/cluster/configs.sh"
((${#EXTRA_NODES[@]} >= 1)) || die "needs two nodes"
scenario_ns s11-node-loss
lost=b lost_name=$(node_name b)
freezer=/sys/fs/cgroup/freezer/rds-k8s-$ID-$lost

pvc data rds-ext4-immediate 64Mi Filesystem ReadWriteOnce
pvc_bound data
pv=$(pv_of data) handle=$(volume_handle "$(pv_of data)")
deployment writer "$lost" \
  'h=$(hostname); (i=0; while :; do i=$((i+1)); echo "$h rec $i" >> /data/log; sync /data/log; echo "acked $i"; sleep 0.1; done) & echo started' \
  fs:data:/data
has_pod() { [[ -n $(deployment_pod writer) ]]; }
assert "the writer is Ready" wait_for 180 "the writer" has_pod
p1=$(deployment_pod writer)
assert_eq "it runs on node $lost" "$(pod_node "$p1")" "$lost"
uid1=$(k -n "$SNS" get pod "$p1" -o jsonpath='{.metadata.uid}')
acked() { tail -c 4096 "$(node_state "$lost")/pod-logs/${SNS}_${p1}_$uid1/c/0.log" 2>/dev/null | grep -o 'acked [0-9]*' | tail -1 | cut -d' ' -f2; }
some_acked() { (($(acked) >= 20)); }
assert "the writer acknowledged 20 records" wait_for 60 "20 records" some_acked

# bring_back: node B running again: link up, pods thawed, kubelet and kube-proxy started if they are not
# running, out-of-service taint removed. Also on any failure, so later scenarios keep three nodes.
bring_back() {
  "$K8S_DIR/cluster/node.sh" connect "$lost"
  echo THAWED >"$freezer/freezer.state"
  local p
  for p in kubelet kube-proxy; do [[ -f $STATE/pids/$p-$lost ]] || start_node_process "$lost" "$p"; done
  k taint node "$lost_name" node.kubernetes.io/out-of-service=nodeshutdown:NoExecute- >/dev/null 2>&1 || true
}
trap 'bring_back' EXIT

# ---- node B is lost ----------------------------------------------------------------------------------------
echo FROZEN >"$freezer/freezer.state"
frozen() { [[ $(cat "$freezer/freezer.state") == FROZEN ]]; }
wait_for 30 "B's pods to freeze" frozen || die "node B's pods did not freeze"
# the pod's mount of the volume (a bind of the staged filesystem: shutting one down shuts the filesystem)
mnt=$(on_node "$lost" findmnt -rn -o TARGET | grep -F "$handle" | head -1)
[[ -n $mnt ]] || die "no mount of $handle on node $lost"
on_node "$lost" xfs_io -x -c shutdown "$mnt" || die "could not shut node $lost's filesystem down"
for p in kubelet kube-proxy; do kill -9 "$(cat "$STATE/pids/$p-$lost")"; rm -f "$STATE/pids/$p-$lost"; done
"$K8S_DIR/cluster/node.sh" cut "$lost"
sleep 1
last=$(acked)
log "node $lost lost: frozen, filesystem shut down, kubelet killed, link cut; last acknowledged record: $last"

not_ready() { [[ $(k get node "$lost_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') != True ]]; }
assert "node $lost goes NotReady" wait_for 150 "NotReady" not_ready
k taint node "$lost_name" node.kubernetes.io/out-of-service=nodeshutdown:NoExecute >/dev/null
moved() { local p; p=$(deployment_pod writer); [[ -n $p && $p != "$p1" ]]; }
t=$SECONDS
assert "a new writer pod is Ready on another node" wait_for 300 "the new writer" moved
p2=$(deployment_pod writer) on2=$(pod_node "$(deployment_pod writer)")
log "new writer $p2 on node $on2 after $((SECONDS - t)) s"
assert "it is not on node $lost" test "$on2" != "$lost"
assert_eq "the volume is attached to node $on2 only" "$(attachments "$pv")" "$(node_name "$on2") true"
found=$(pod_exec "$p2" sh -c "grep -c '^$p1 rec ' /data/log")
missing=$(pod_exec "$p2" sh -c "i=1; while [ \$i -le $last ]; do grep -qx \"$p1 rec \$i\" /data/log || echo \$i; i=\$((i+1)); done" | head -3)
assert_eq "every record node $lost acknowledged (1..$last) is on the volume ($found of its records there)" "$missing" ""

# ---- node B comes back -------------------------------------------------------------------------------------
bring_back
ready() { ! not_ready; }
assert "node $lost is Ready again" wait_for 120 "Ready" ready
stale_gone() { ! on_node "$lost" findmnt -rn -o TARGET | grep -q "$handle" && ! plugin_loops "$lost" | grep -q "$handle"; }
assert "node $lost tore its stale pod's mount and loop device down" wait_for 180 "B's stale mount" stale_gone
written_by_p2() { pod_exec "$p2" sh -c "grep -c '^$p2 rec ' /data/log"; }
before=$(written_by_p2)
sleep 3
assert "the new writer still writes after node $lost's return" test "$(written_by_p2)" -gt "$before"
assert_eq "and node $lost's writer wrote nothing after it was lost" "$(pod_exec "$p2" sh -c "grep -c '^$p1 rec ' /data/log")" "$found"
assert_eq "the volume is still attached to node $on2 only" "$(attachments "$pv")" "$(node_name "$on2") true"

# ---- the volume is clean ---------------------------------------------------------------------------------
k -n "$SNS" delete deployment writer --wait=true --timeout=120s >/dev/null
detached() { [[ -z $(attachments "$pv") ]]; }
assert "the volume is detached everywhere" wait_for 120 "detach" detached
file=$(disk_file "$handle")
fsck_out=$(e2fsck -fn "$file" 2>&1) || { echo "$fsck_out" >&2; die "e2fsck -fn of the volume found problems"; }
log "e2fsck -fn: $(tail -1 <<<"$fsck_out")"
assert "e2fsck -fn of the volume is clean" true
scenario_cleanup
