#!/usr/bin/env bash
# Scenario 9 (issue 16.1): the live-migration hand-off on a ReadWriteMany raw block volume. A pod on node A
# writes a pattern through its device; a pod on node B starts while A's still runs (two VolumeAttachments,
# both kubelets have mapped the device); a pod on node C is refused while both hold the volume, with the
# driver's error in its VolumeAttachment and in an Event; A's pod stops, B reads exactly A's bytes, A's
# VolumeAttachment goes and B keeps working.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
((${#EXTRA_NODES[@]} >= 2)) || die "needs three nodes (K8S_NODES=3)"
scenario_ns s09-handoff

pvc disk rds-block 64Mi Block ReadWriteMany
# source: 1 MiB of random bytes at 1 MiB into the device, written with O_DIRECT-free dd and fsync'ed
ON_NODE=a pod source "head -c 1048576 /dev/urandom > /tmp/pattern; dd if=/tmp/pattern of=/dev/xvda bs=65536 seek=16 conv=fsync 2>/dev/null" blk:disk:/dev/xvda
pod_ready source
pv=$(pv_of disk)
written=$(pod_exec source sh -c 'sha256sum < /tmp/pattern')
ON_NODE=b pod target "test -b /dev/xvda" blk:disk:/dev/xvda
pod_ready target
assert_eq "both nodes attached at once (VolumeAttachments)" "$(attachments "$pv" | tr '\n' ' ')" \
  "$(printf '%s true\n' "$(node_name a)" "$(node_name b)" | sort | tr '\n' ' ')"
assert "node A's kubelet mapped the device for its pod" kubelet_mapped source
assert "node B's kubelet mapped the device for its pod" kubelet_mapped target
file=$(basename "$(disk_file "$(volume_handle "$pv")")")
a_loop=$(plugin_loops a | grep "$file" | cut -d' ' -f1) b_loop=$(plugin_loops b | grep "$file" | cut -d' ' -f1)
assert "each node's plugin attached its own loop device over the disk file (A: $a_loop, B: $b_loop)" \
  test -n "$a_loop" -a -n "$b_loop" -a "$a_loop" != "$b_loop"
assert_eq "node B reads A's bytes while A's pod still runs" \
  "$(pod_exec target sh -c 'dd if=/dev/xvda bs=65536 skip=16 count=16 2>/dev/null | sha256sum')" "$written"

# a third node while two hold the volume
ON_NODE=c pod third "true" blk:disk:/dev/xvda
refused_va() { k get volumeattachment -o json | python3 -c '
import json, sys
for v in json.load(sys.stdin)["items"]:
    if v["spec"]["source"].get("persistentVolumeName") == sys.argv[1] and v["spec"]["nodeName"] == sys.argv[2]:
        print((v.get("status", {}).get("attachError") or {}).get("message", ""))' "$pv" "$(node_name c)"; }
va_refused() { [[ $(refused_va) == *"allows 2 at once"* ]]; }
assert "node C's VolumeAttachment carries the driver's refusal" wait_for 90 "attach error on node C" va_refused
log "node C's VolumeAttachment: $(refused_va)"
event_refused() { events_of third | grep -q "FailedAttachVolume.*allows 2 at once"; }
assert "the pod on node C has a FailedAttachVolume Event with the driver's error" wait_for 60 "the Event" event_refused
assert_eq "the pod on node C did not start" "$(k -n "$SNS" get pod third -o jsonpath='{.status.phase}')" Pending
k -n "$SNS" delete pod third --wait=true --timeout=60s >/dev/null
# Its VolumeAttachment goes once node C's next status says the volume is not in use (the attach-detach
# controller assumes a failed attach may be mounted): the hand-off goes on meanwhile, checked at the end.

# the source stops; its attachment goes; the target keeps working
k -n "$SNS" delete pod source --wait=true --timeout=120s >/dev/null
only_b() { [[ $(attachments "$pv" | grep -v "^$(node_name c) ") == "$(node_name b) true" ]]; }
assert "node A's VolumeAttachment is gone, node B's stays (C's refused one aside)" wait_for 120 "A's attachment to go" only_b
a_gone() { ! plugin_loops a | grep -q "$file" && [[ ! -e /sys/block/$a_loop/loop/backing_file ]]; }
assert "node A's plugin detached its loop device ($a_loop)" wait_for 30 "A's loop device" a_gone
b_keeps() { plugin_loops b | grep -q "^$b_loop "; }
assert "node B's plugin keeps its loop device ($b_loop)" b_keeps
assert_eq "node B still reads A's bytes" \
  "$(pod_exec target sh -c 'dd if=/dev/xvda bs=65536 skip=16 count=16 2>/dev/null | sha256sum')" "$written"
assert_eq "node B writes and reads back after the hand-off" \
  "$(pod_exec target sh -c 'echo after-handoff | dd of=/dev/xvda bs=512 seek=8192 conv=fsync 2>/dev/null; dd if=/dev/xvda bs=512 skip=8192 count=1 2>/dev/null | head -1')" \
  after-handoff
no_c() { ! attachments "$pv" | grep -q "^$(node_name c) "; }
assert "node C's refused VolumeAttachment is removed after its pod" wait_for 300 "node C's attachment to go" no_c
scenario_cleanup
