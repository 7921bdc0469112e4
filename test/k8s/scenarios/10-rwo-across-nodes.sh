#!/usr/bin/env bash
# Scenario 10 (issue 16.2): a ReadWriteOnce volume in use on node A; a pod for it pinned to node B never
# starts while A holds it, and the user sees why (the pod's Events); the driver itself refuses an attach
# to B that bypasses that check. Once A's pod is gone, B's pod starts and finds A's data.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
((${#EXTRA_NODES[@]} >= 1)) || die "needs two nodes"
scenario_ns s10-rwo

pvc data rds-ext4 64Mi Filesystem ReadWriteOnce
ON_NODE=a pod holder "echo from-a > /data/f; sync" fs:data:/data
pod_ready holder
pv=$(pv_of data)
ON_NODE=b pod intruder "cat /data/f" fs:data:/data
multi_attach() { events_of intruder | grep -q "FailedAttachVolume.*already used by pod(s) holder"; }
assert "the pod on node B has a FailedAttachVolume Event (the volume is already used by pod holder)" wait_for 90 "the FailedAttachVolume Event" multi_attach
log "the user sees: $(events_of intruder | grep -m1 FailedAttachVolume)"
sleep 15
assert_eq "the pod on node B has not started 15 s later" "$(k -n "$SNS" get pod intruder -o jsonpath='{.status.phase}')" Pending
assert_eq "the volume is attached to node A only" "$(attachments "$pv")" "$(node_name a) true"
assert_eq "node A's pod still reads and writes" "$(pod_exec holder sh -c 'echo more >> /data/f; sync; tail -1 /data/f')" more

# Kubernetes stopped that one before the driver saw it. The driver's own fence, reached the way any
# attach reaches it (external-attacher acting on a VolumeAttachment): a VolumeAttachment for node B made
# by hand is refused by ControllerPublishVolume, and A's attachment is untouched.
k apply -f - >/dev/null <<Y
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: s10-rogue}
spec: {attacher: rds.csi.mikrotik.com, nodeName: $(node_name b), source: {persistentVolumeName: $pv}}
Y
rogue_error() { k get volumeattachment s10-rogue -o jsonpath='{.status.attachError.message}'; }
rogue_refused() { [[ $(rogue_error) == *"allows one node at a time"* ]]; }
assert "the driver refuses a second node for a ReadWriteOnce volume" wait_for 60 "the attach error" rogue_refused
log "VolumeAttachment s10-rogue: $(rogue_error)"
k delete volumeattachment s10-rogue --wait=true --timeout=60s >/dev/null
assert_eq "the volume is still attached to node A only" "$(attachments "$pv")" "$(node_name a) true"
assert_eq "node A's pod still writes" "$(pod_exec holder sh -c 'echo again >> /data/f; sync; tail -1 /data/f')" again

k -n "$SNS" delete pod holder --wait=true --timeout=120s >/dev/null
pod_ready intruder 240
assert_eq "the pod on node B started once A's pod was gone, on node B" "$(pod_node intruder)" b
assert_eq "it reads what node A wrote" "$(pod_exec intruder cat /data/f | tr '\n' ' ')" "from-a more again "
assert_eq "the volume is attached to node B only" "$(attachments "$pv")" "$(node_name b) true"
scenario_cleanup
