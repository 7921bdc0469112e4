#!/usr/bin/env bash
# Scenario 1: a PVC of an Immediate and of a WaitForFirstConsumer class binds; the PV's capacity and the
# disk on the RDS have exactly the requested size; deleting the PVCs removes the PVs, the disks and files.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s01-bind

pvc imm rds-ext4-immediate 96Mi
t=$SECONDS
pvc_bound imm 120 || die "Immediate PVC not Bound"
log "Immediate PVC Bound after $((SECONDS - t)) s"
pvc wffc rds-ext4 80Mi
sleep 3
assert_eq "WaitForFirstConsumer PVC waits for a pod" "$(pvc_phase wffc)" Pending
t=$SECONDS
pod consumer "df -k /data" fs:wffc:/data
pod_ready consumer 240
log "WaitForFirstConsumer pod Ready after $((SECONDS - t)) s"

volumes=()
for claim in imm:100663296 wffc:83886080; do
  IFS=: read -r name bytes <<<"$claim"
  pv=$(pv_of "$name") handle=$(volume_handle "$pv")
  assert_eq "PV $pv capacity" "$(k get pv "$pv" -o jsonpath='{.spec.capacity.storage}')" "$( ((bytes == 100663296)) && echo 96Mi || echo 80Mi)"
  file=$(disk_file "$handle")
  assert "the RDS has a file for $handle" test -n "$file"
  assert_eq "size of $file" "$(stat -c %s "$file")" "$bytes"
  rds "/disk print detail where slot=\"$handle\"" | tr -s ' \r\n' ' ' >"$STATE/disk-$handle.txt"
  assert "/disk print shows slot $handle" grep -q "slot=\"$handle\"" "$STATE/disk-$handle.txt"
  volumes+=("$pv $handle $file")
done

k -n "$SNS" delete pod consumer --wait=true --timeout=120s >/dev/null
k -n "$SNS" delete pvc imm wffc --wait=true --timeout=120s >/dev/null
for v in "${volumes[@]}"; do
  read -r pv handle file <<<"$v"
  assert "PV $pv is gone" wait_for 120 "PV $pv deleted" pv_gone "$pv"
  assert "the disk $handle is gone from the RDS" test -z "$(rds "/disk print where slot=\"$handle\"" | grep -F "$handle")"
  assert "its file is gone" test ! -e "$file"
done
scenario_cleanup
