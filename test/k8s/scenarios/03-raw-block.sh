#!/usr/bin/env bash
# Scenario 3: a volumeMode: Block PVC in a pod's volumeDevices. kubelet's own MapBlockVolume (its
# `losetup` on the published device file) must succeed; the pod writes through the device and reads back.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s03-block

pvc raw rds-block 48Mi Block ReadWriteOnce
pod vm "test -b /dev/xvda; head -c 1048576 /dev/urandom > /tmp/in; dd if=/tmp/in of=/dev/xvda bs=65536 seek=16 conv=fsync 2>/dev/null" blk:raw:/dev/xvda
pod_ready vm
assert_eq "device size seen in the pod" "$(pod_exec vm blockdev --getsize64 /dev/xvda)" 50331648
assert_eq "data read back through the device" \
  "$(pod_exec vm sh -c 'dd if=/dev/xvda bs=65536 skip=16 count=16 2>/dev/null | sha256sum')" \
  "$(pod_exec vm sh -c 'sha256sum < /tmp/in')"
pv=$(pv_of raw)
assert "kubelet of node $(pod_node vm) mapped the block volume (its loop device over the published file)" \
  on_node "$(pod_node vm)" bash -c "losetup -l -n -O BACK-FILE | grep -q \"volumeDevices/.*\\|$pv\""
scenario_cleanup
