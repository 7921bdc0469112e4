#!/usr/bin/env bash
# Scenario 12 (issue 16.4): a ReadWriteOncePod volume. A second pod for it on the same node is refused
# (the scheduler's, visible as an Event on the pod) and never starts; the first keeps its volume.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s12-rwop

pvc solo rds-ext4-immediate 64Mi Filesystem ReadWriteOncePod
pvc_bound solo
ON_NODE=a pod first "echo first > /data/f; sync" fs:solo:/data
pod_ready first
ON_NODE=a pod second "cat /data/f" fs:solo:/data
refused() { events_of second | grep -q "FailedScheduling.*ReadWriteOncePod"; }
assert "the second pod has a FailedScheduling Event naming ReadWriteOncePod" wait_for 60 "the Event" refused
log "the user sees: $(events_of second | grep -m1 ReadWriteOncePod)"
sleep 10
assert_eq "the second pod is still Pending, not scheduled" \
  "$(k -n "$SNS" get pod second -o jsonpath='{.status.phase}/{.spec.nodeName}')" "Pending/"
assert_eq "the first pod still reads its volume" "$(pod_exec first cat /data/f)" first
scenario_cleanup
