#!/usr/bin/env bash
# Scenario 5: the chart's VolumeSnapshotClass; a VolumeSnapshot of a PVC with data (snapshot-controller +
# csi-snapshotter -> CreateSnapshot), a new PVC restored from it, and a PVC cloned from the PVC: both hold
# the original data.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s05-snap

pvc origin rds-ext4-immediate 64Mi
pod writer "echo snapshot-me > /data/f; sync" fs:origin:/data
pod_ready writer
k -n "$SNS" delete pod writer --wait=true --timeout=120s >/dev/null   # a consistent, unmounted origin
k -n "$SNS" apply -f - >/dev/null <<Y
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap}
spec:
  volumeSnapshotClassName: rds-snapshot
  source: {persistentVolumeClaimName: origin}
Y
ready() { test "$(k -n "$SNS" get volumesnapshot snap -o jsonpath='{.status.readyToUse}')" = true; }
assert "the VolumeSnapshot becomes readyToUse" wait_for 180 "snapshot ready" ready
pvc restored rds-ext4-immediate 64Mi Filesystem ReadWriteOnce \
  "dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap}"
pvc clone rds-ext4-immediate 64Mi Filesystem ReadWriteOnce "dataSource: {kind: PersistentVolumeClaim, name: origin}"
pod reader "cat /restored/f /clone/f" \
  fs:restored:/restored fs:clone:/clone
pod_ready reader 240
assert_eq "restored data" "$(pod_exec reader cat /restored/f)" snapshot-me
assert_eq "cloned data" "$(pod_exec reader cat /clone/f)" snapshot-me
k -n "$SNS" delete pod reader --wait=true --timeout=120s >/dev/null
k -n "$SNS" delete volumesnapshot snap --wait=true --timeout=120s >/dev/null
no_content() { [[ -z $(k get volumesnapshotcontent -o name) ]]; }
assert "no VolumeSnapshotContent left" wait_for 60 "snapshot content deleted" no_content
scenario_cleanup
