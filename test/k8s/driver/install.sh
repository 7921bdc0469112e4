#!/usr/bin/env bash
# The RDS and the driver, the way docs/install.md tells users: the simulator (`rds-csi sim`) plays the RDS
# on the node's address inside the cluster's network namespace; the controller's SSH key and the RDS's
# pinned host key (taken from the "appliance" with /ip/ssh/export-host-key) go into the rds-csi-ssh Secret;
# then the snapshot CRDs and snapshot-controller (a cluster add-on the chart expects), and `helm install`
# of deploy/helm/rds-csi with test/k8s/driver/values.yaml (only what this environment needs).
source "$(dirname "$0")/../lib/common.sh"
SSH=$STATE/ssh
mkdir -p "$SSH" "$SIM_DATA"

# ---- the RDS ---------------------------------------------------------------------------------------------
[[ -f $SSH/rds-csi_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C rds-csi -f "$SSH/rds-csi_ed25519"
"$K8S_DIR/driver/sim.sh" start
ssh_rds() {
  in_ns ssh -q -i "$SSH/rds-csi_ed25519" -p "$SIM_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null "rds-csi@$NODE_IP" "$@"
}
# On the appliance's console (trusted path): export the host key, keep its public line, delete the files.
ssh_rds "/ip/ssh/export-host-key key-file-prefix=k8s-e2e" >/dev/null
pub=$(find "$SIM_DATA" -maxdepth 2 -name 'k8s-e2e_*_pub.pem' | head -1)
[[ -n $pub ]] || die "/ip/ssh/export-host-key wrote no k8s-e2e_*_pub.pem under $SIM_DATA"
node "$K8S_DIR/driver/pem-to-openssh.mjs" "$pub" >"$SSH/rds-host-key.pub"
ssh_rds "/file remove [find name~\"^k8s-e2e_\"]" >/dev/null
echo "[$NODE_IP]:$SIM_PORT $(cat "$SSH/rds-host-key.pub")" >"$SSH/known_hosts"
log "driver: pinned host key $(ssh-keygen -lf "$SSH/rds-host-key.pub" | cut -d' ' -f2)"

# ---- namespace and Secret (docs/install.md, step 3) -------------------------------------------------------
# Their output is kept in out/k8s/install-captured.txt: docs/install.md shows it as captured.
captured=$OUT/install-captured.txt
{
  k create namespace "$NS"
  k label namespace "$NS" pod-security.kubernetes.io/enforce=privileged
  k -n "$NS" create secret generic rds-csi-ssh \
    --from-file=ssh-privatekey="$SSH/rds-csi_ed25519" \
    --from-literal=host-key="$(cat "$SSH/rds-host-key.pub")"
} >"$captured"

# ---- snapshot CRDs and snapshot-controller (external-snapshotter $SNAPSHOTTER_VERSION) --------------------
crds=$(go env GOMODCACHE)/github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_VERSION/config/crd
for f in "$crds"/*.yaml; do [[ $(basename "$f") == kustomization.yaml ]] || k apply -f "$f" >/dev/null; done
# The snapshot-controller exits when it cannot list the snapshot kinds within its start-up retries.
k wait --for=condition=Established crd --all --timeout=60s >/dev/null
k apply -f "$K8S_DIR/driver/snapshot-controller.yaml" >/dev/null

# ---- the chart ---------------------------------------------------------------------------------------------
t=$SECONDS
helm install rds-csi "$K8S_ROOT/deploy/helm/rds-csi" -n "$NS" -f "$K8S_DIR/driver/values.yaml" \
  --set kubeletDir="$KUBELET_DIR" --set rds.address="$NODE_IP" --set rds.port="$SIM_PORT" --set node.loopRoot="$SIM_DATA" \
  --wait --timeout 5m \
  >"$OUT/helm-install.txt" 2>&1 || { cat "$OUT/helm-install.txt"; die "helm install"; }
# The snapshot-controller is an add-on of this test cluster, not part of the driver: its pod runs about 1 s
# after it is applied. (One CI run timed out here: the host's disk was full and kubelet evicted it; run.sh
# now checks the free disk first, and prints what the cluster shows when a step fails.)
k -n kube-system rollout status deploy/snapshot-controller --timeout=120s >/dev/null
{ # docs/install.md, step 5
  k -n "$NS" rollout status deploy/rds-csi-controller
  k -n "$NS" rollout status ds/rds-csi-node
  k -n "$NS" get pods
  k get csidriver rds.csi.mikrotik.com
} >>"$captured" 2>&1
log "driver: helm install done in $((SECONDS - t)) s"
