#!/usr/bin/env bash
# Scenario 4: online expansion. The PVC's size is patched while its pod runs; the filesystem in the pod
# sees the new size (external-resizer -> ControllerExpandVolume, kubelet -> NodeExpandVolume) and the PVC
# reports it. XFS (at least 300 MiB for mkfs.xfs): an online ext4 resize needs CAP_SYS_RESOURCE, which no
# process of this sandbox has (the driver answers FAILED_PRECONDITION saying so; docs/k8s-e2e.md).
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s04-expand

pvc grow rds-xfs-immediate 320Mi
pod app "echo before > /data/marker" fs:grow:/data
pod_ready app
size_kib() { pod_exec app df -k /data | awk 'NR==2 {print $2}'; }
before=$(size_kib)
k -n "$SNS" patch pvc grow --type merge -p '{"spec":{"resources":{"requests":{"storage":"480Mi"}}}}' >/dev/null
t=$SECONDS
grown() { (($(size_kib) > before + 150000)); }
assert "the filesystem in the running pod grew by more than 150 MB (was ${before} KiB)" wait_for 180 "filesystem growth" grown
log "filesystem grew in $((SECONDS - t)) s: $(size_kib) KiB"
reported() { [[ $(k -n "$SNS" get pvc grow -o jsonpath='{.status.capacity.storage}') == 480Mi ]]; }
assert "the PVC reports 480Mi" wait_for 60 "PVC capacity" reported
assert_eq "disk file on the RDS" "$(stat -c %s "$(disk_file "$(volume_handle "$(pv_of grow)")")")" 503316480
assert_eq "data kept" "$(pod_exec app cat /data/marker)" before
scenario_cleanup
