#!/usr/bin/env bash
# Scenario 99 (issue 12 scenario 7; numbered last: it uninstalls the driver): `helm upgrade` with a changed value rolls both pods and the
# volumes keep working; `helm uninstall` after every PVC is gone leaves no driver object behind.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s99-helm

pvc data rds-ext4-immediate 64Mi
pod app "echo before-upgrade > /data/f; sync" fs:data:/data
pod_ready app
ds_before=$(k -n "$NS" get pod -l app.kubernetes.io/component=node -o jsonpath='{.items[0].metadata.uid}')
helm upgrade rds-csi "$K8S_ROOT/deploy/helm/rds-csi" -n "$NS" --reset-then-reuse-values --set logLevel=info --wait --timeout 5m \
  >"$OUT/helm-upgrade.txt" 2>&1 || { cat "$OUT/helm-upgrade.txt"; die "helm upgrade"; }
k -n "$NS" rollout status ds/rds-csi-node --timeout=180s >/dev/null
k -n "$NS" rollout status deploy/rds-csi-controller --timeout=180s >/dev/null
ds_after=$(k -n "$NS" get pod -l app.kubernetes.io/component=node -o jsonpath='{.items[0].metadata.uid}')
assert "the upgrade rolled the node plugin (new pod)" test "$ds_before" != "$ds_after"
assert_eq "the new pods run with the new value" "$(k -n "$NS" get configmap rds-csi-config -o jsonpath='{.data.RDS_CSI_LOG_LEVEL}')" info
assert_eq "the mounted volume still works" "$(pod_exec app sh -c 'echo after >> /data/f; cat /data/f | tr "\n" " "')" "before-upgrade after "
pvc fresh rds-ext4-immediate 64Mi
pod app2 "echo new > /data/f" fs:fresh:/data
pod_ready app2
scenario_cleanup
gone() { [[ -z $(k get pv -o name) ]]; }
assert "every PV is deleted before the uninstall" wait_for 120 "PVs deleted" gone

helm uninstall rds-csi -n "$NS" --wait --timeout 3m >"$OUT/helm-uninstall.txt" 2>&1 || die "helm uninstall"
kinds=deployment,daemonset,service,configmap,secret,serviceaccount,role,rolebinding,clusterrole,clusterrolebinding,csidriver,storageclass,volumesnapshotclass
left=$(k get "$kinds" -A -l app.kubernetes.io/instance=rds-csi -o name 2>/dev/null)
assert "helm uninstall leaves no object of the release ($left)" test -z "$left"
no_pods() { [[ -z $(k -n "$NS" get pods -o name) ]]; }
assert "no driver pod left" wait_for 120 "driver pods gone" no_pods
no_capacity() { [[ -z $(k -n "$NS" get csistoragecapacity -o name) ]]; }
assert "no CSIStorageCapacity left (owned by the controller Deployment)" wait_for 60 "capacity objects gone" no_capacity
