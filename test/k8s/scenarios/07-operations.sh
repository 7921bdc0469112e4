#!/usr/bin/env bash
# Scenario 7 (issue 12 scenario 8): operations. /metrics scraped through the chart's Service (from a pod, over the Service's
# cluster IP) shows the CreateVolume/DeleteVolume the earlier scenarios did; a provisioning that fails
# because the RDS is full leaves a clear Event on the PVC, and binds once space is back.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s07-ops

svc=$(k -n "$NS" get service rds-csi-controller-metrics -o jsonpath='{.spec.clusterIP}:{.spec.ports[?(@.name=="metrics")].port}')
pod scraper "true"
pod_ready scraper
pod_exec scraper wget -q -O - "http://$svc/metrics" >"$OUT/s07-metrics.txt"
created=$(awk '/^rds_csi_rpc_total\{.*method="CreateVolume".*code="OK"/ {s += $2} END {print s + 0}' "$OUT/s07-metrics.txt")
deleted=$(awk '/^rds_csi_rpc_total\{.*method="DeleteVolume".*code="OK"/ {s += $2} END {print s + 0}' "$OUT/s07-metrics.txt")
assert "metrics through the Service count the CreateVolume calls done so far ($created)" test "$created" -ge 1
assert "and the DeleteVolume calls ($deleted)" test "$deleted" -ge 1
assert "the SSH connection to the RDS is up" grep -q '^rds_csi_ssh_connected 1' "$OUT/s07-metrics.txt"

"$K8S_DIR/driver/sim.sh" restart --disk-full
pvc full rds-ext4-immediate 64Mi
event() { k -n "$SNS" get events --field-selector involvedObject.name=full,reason=ProvisioningFailed -o jsonpath='{.items[*].message}'; }
has_event() { [[ -n $(event) ]]; }
assert "a ProvisioningFailed Event appears on the PVC" wait_for 120 "ProvisioningFailed event" has_event
log "event: $(event | head -c 400)"
assert "the Event says the RDS is out of space" bash -c "grep -qiE 'space|full|RESOURCE_EXHAUSTED' <<<\"\$1\"" _ "$(event)"
assert_eq "the PVC stays Pending" "$(pvc_phase full)" Pending
"$K8S_DIR/driver/sim.sh" restart
assert "with space back, the PVC binds" pvc_bound full 180
scenario_cleanup
