#!/usr/bin/env bash
# Scenario 13 (issue 16.5): `kubectl drain` of a node with a filesystem and a raw block volume in use. The
# pods (Deployments) move to other nodes, the volumes follow with their data, and nothing of them is left on
# the drained node: no VolumeAttachment, no mount, no loop device of its plugin, no staging state.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
((${#EXTRA_NODES[@]} >= 1)) || die "needs two nodes"
scenario_ns s13-drain
drained=b

pvc files rds-ext4 64Mi Filesystem ReadWriteOnce
pvc raw rds-block 64Mi Block ReadWriteOnce
deployment app "$drained" \
  "if [ ! -f /data/f ]; then echo block-before-drain | dd of=/dev/xvda bs=512 seek=100 conv=fsync 2>/dev/null; echo before-drain > /data/f; fi; sync" \
  fs:files:/data blk:raw:/dev/xvda
has_pod() { [[ -n $(deployment_pod app) ]]; }
assert "the workload is Ready" wait_for 180 "the workload" has_pod
p1=$(deployment_pod app)
assert_eq "it runs on node $drained (preferred)" "$(pod_node "$p1")" "$drained"
pv_files=$(pv_of files) pv_raw=$(pv_of raw)
h_files=$(volume_handle "$pv_files") h_raw=$(volume_handle "$pv_raw")

trap 'k uncordon "$(node_name "$drained")" >/dev/null 2>&1' EXIT   # also when an assertion fails
k drain "$(node_name "$drained")" --ignore-daemonsets --delete-emptydir-data --timeout=180s >"$OUT/drain.txt" 2>&1 ||
  { cat "$OUT/drain.txt" >&2; die "kubectl drain failed"; }
log "drain: $(grep -c evicted "$OUT/drain.txt") pod(s) evicted"
moved() { local p; p=$(deployment_pod app); [[ -n $p && $p != "$p1" ]]; }
assert "the workload is Ready again on another pod" wait_for 240 "the moved workload" moved
p2=$(deployment_pod app)
assert "it runs on another node ($(pod_node "$p2"))" test "$(pod_node "$p2")" != "$drained"
assert_eq "the filesystem volume followed with its data" "$(pod_exec "$p2" cat /data/f)" before-drain
assert_eq "the block volume followed with its data" \
  "$(pod_exec "$p2" sh -c 'dd if=/dev/xvda bs=512 skip=100 count=1 2>/dev/null | head -1')" block-before-drain

no_va() { ! { attachments "$pv_files"; attachments "$pv_raw"; } | grep -q "^$(node_name "$drained") "; }
assert "no VolumeAttachment is left on the drained node" wait_for 60 "the drained node's attachments" no_va
no_mounts() { ! on_node "$drained" findmnt -rn -o TARGET,SOURCE | grep -qE "$h_files|$h_raw|$pv_files|$pv_raw"; }
assert "no mount of either volume is left on the drained node" no_mounts
assert_eq "no loop device of the drained node's plugin is left" "$(plugin_loops "$drained")" ""
left=$(on_node "$drained" find "$KUBELET_DIR/plugins/kubernetes.io/csi" -path "*$pv_files*" -o -path "*$pv_raw*" 2>/dev/null | head -3)
assert_eq "no staging or publish directory of either volume is left on the drained node" "$left" ""
k -n "$SNS" delete deployment app --wait=true --timeout=120s >/dev/null
scenario_cleanup
