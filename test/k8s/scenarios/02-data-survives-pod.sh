#!/usr/bin/env bash
# Scenario 2: a pod writes a file and its checksum to a filesystem PVC and is deleted; a new pod on the
# same PVC reads the same checksum (kubelet unpublished, unstaged, staged and published again).
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s02-data

pvc data rds-ext4-immediate 64Mi
pod writer "head -c 4194304 /dev/urandom > /data/blob; sha256sum /data/blob | tee /data/blob.sha256; sync" fs:data:/data
pod_ready writer
written=$(pod_exec writer cat /data/blob.sha256)
k -n "$SNS" delete pod writer --wait=true --timeout=120s >/dev/null
pod reader "sha256sum -c /data/blob.sha256" fs:data:/data
pod_ready reader
assert_eq "checksum read by the new pod" "$(pod_exec reader sha256sum /data/blob)" "$written"
scenario_cleanup
