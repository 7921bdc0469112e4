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

# A full RDS until the end of this part, also when an assertion fails (the next scenarios need space).
full=1
trap '((full == 0)) || "$K8S_DIR/driver/sim.sh" restart >/dev/null' EXIT
"$K8S_DIR/driver/sim.sh" restart --disk-full
pvc full rds-ext4-immediate 64Mi
event() { k -n "$SNS" get events --field-selector involvedObject.name=full,reason=ProvisioningFailed -o jsonpath='{.items[*].message}'; }
# The first attempt may still meet the restarting simulator (ECONNREFUSED, UNAVAILABLE); the provisioner
# retries, and the driver's answer from the full RDS must come and say so.
says_full() { event | grep -qiE 'space|full|RESOURCE_EXHAUSTED'; }
assert "a ProvisioningFailed Event on the PVC says the RDS is out of space" wait_for 120 "the out-of-space Event" says_full
log "event: $(event | grep -oiE '[^.]*(space|full|RESOURCE_EXHAUSTED)[^.]*' | head -1 | head -c 400)"
assert_eq "the PVC stays Pending" "$(pvc_phase full)" Pending
"$K8S_DIR/driver/sim.sh" restart
full=0
assert "with space back, the PVC binds" pvc_bound full 180
scenario_cleanup
