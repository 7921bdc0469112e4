#!/usr/bin/env bash
# Offline validation of everything under deploy/ (no cluster, no container engine):
#   - helm (4, and 3 for a compatibility comparison) and kustomize are built from the Go module proxy and
#     cached in .cache/bin/;
#   - the chart is linted, its values schema is shown to refuse bad values, and it is rendered for several
#     value sets (default, custom driver name + kubelet dir, two replicas + snapshots + ServiceMonitor,
#     everything optional off);
#   - every rendered object is decoded strictly against the Kubernetes Go API types (and the snapshot and
#     prometheus-operator ones; CDI/KubeVirt through subset mirrors), then checked for broken references and
#     for rds-csi's own invariants (test/deploy/validate);
#   - the kustomize base must equal `helm template` with deploy/kustomize/base.values.yaml (the chart is
#     the single source: `scripts/validate-deploy.sh --update` regenerates the base), and the overlay
#     example and the example manifests are validated too.
# Rendered files are kept in out/deploy/. Usage: scripts/validate-deploy.sh [--update]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

HELM_VERSION=v4.3.1
HELM3_VERSION=v3.22.0 # users still on Helm 3 must get the same objects
KUSTOMIZE_VERSION=v5.8.2
KUBE_VERSION=1.34.0 # the lowest Kubernetes the chart declares (Chart.yaml kubeVersion)
BIN=$root/.cache/bin
CHART=deploy/helm/rds-csi
BASE=deploy/kustomize/base
OUT=out/deploy

update=0
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

started=$(date +%s)
last=$started
step() {
  local now; now=$(date +%s)
  printf '\n\033[1;36m== %s ==\033[0m (+%ss)\n' "$*" "$((now - last))"
  last=$now
}
die() { echo "validate-deploy: $*" >&2; exit 1; }

# go install NAME PACKAGE VERSION [DIR]: a cached binary with a version stamp, rebuilt when the version
# changes. DIR (default .cache/bin) keeps binaries of the same name apart (helm 3 and helm 4).
install_go_tool() {
  local name=$1 pkg=$2 version=$3 dir=${4:-$BIN}
  if [[ -x $dir/$name && -f $dir/$name.$version ]]; then return; fi
  echo "building $name $version from the Go module proxy (first time only: a few minutes)"
  mkdir -p "$dir"
  GOBIN=$dir go install "$pkg@$version"
  rm -f "$dir/$name".v*
  touch "$dir/$name.$version"
}

step "tools (helm $HELM_VERSION and $HELM3_VERSION, kustomize $KUSTOMIZE_VERSION, validator)"
command -v go >/dev/null || die "needs Go (the tools are built from the Go module proxy)"
install_go_tool helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION"
install_go_tool helm helm.sh/helm/v3/cmd/helm "$HELM3_VERSION" "$BIN/helm3"
install_go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
go build -C test/deploy/validate -o "$BIN/rds-csi-validate" .
helm=$BIN/helm helm3=$BIN/helm3/helm kustomize=$BIN/kustomize validate=$BIN/rds-csi-validate
echo "ok: $("$helm" version --short 2>/dev/null || true) $("$kustomize" version 2>/dev/null || true)"

step "validator self-test (go test: each invariant fails on a broken manifest)"
go test -C test/deploy/validate -count=1 ./...

mkdir -p "$OUT"
step "helm lint --strict (every value set in $CHART/ci)"
for values in "$CHART"/ci/*-values.yaml; do
  "$helm" lint --strict "$CHART" --kube-version "$KUBE_VERSION" -f "$values" >"$OUT/lint.log" 2>&1 ||
    { cat "$OUT/lint.log"; die "helm lint failed with $values"; }
  echo "ok: lint $(basename "$values")"
done

step "values.schema.json refuses bad values"
refuse() { # description, expected text in the error, helm args...
  local what=$1 expect=$2; shift 2
  if "$helm" template x "$CHART" --kube-version "$KUBE_VERSION" -f "$CHART/ci/default-values.yaml" "$@" >"$OUT/refuse.log" 2>&1; then
    die "accepted $what ($*)"
  fi
  grep -q -- "$expect" "$OUT/refuse.log" || { cat "$OUT/refuse.log"; die "refused $what, but without mentioning '$expect'"; }
  echo "ok: refuses $what"
}
refuse "an unknown top-level key" "additional properties" --set replica=2
refuse "a misspelt nested key" "additional properties" --set controller.replica=2
cat >"$OUT/typo-values.yaml" <<'EOF'
storageClasses:
  - { name: rds-ext4, enabled: true, fsType: ext4, reclaimPolicy: Delete, volumeBindingMode: WaitForFirstConsumer,
      allowVolumeExpansion: true, parameters: { nvmePrt: "4420" } }
EOF
refuse "an unknown StorageClass parameter" "nvmePrt" -f "$OUT/typo-values.yaml"
refuse "an unsupported fsType" "fsType" --set 'storageClasses[0].fsType=btrfs'
refuse "zero controller replicas" "replicas" --set controller.replicas=0
refuse "an unpinned sidecar image" "image" --set sidecars.provisioner.image=registry.k8s.io/sig-storage/csi-provisioner:latest
refuse "a bad NQN prefix" "nqnPrefix" --set rds.nqnPrefix=iqn.2026-01.bad
refuse "a missing RDS address" "rds.address" --set rds.address=
refuse "a ServiceMonitor without the metrics Service" "metrics.service.enabled" \
  --set metrics.serviceMonitor.enabled=true --set metrics.service.enabled=false

refuse "the loop transport without its root" "loopRoot" --set node.transport=loop
refuse "an unknown node transport" "transport" --set node.transport=iscsi
refuse "an unknown snapshotMethod" "snapshotMethod" --set storageClasses[0].parameters.snapshotMethod=lvm
refuse "an unknown VolumeSnapshotClass parameter" "snapshotMethd" --set snapshots.parameters.snapshotMethd=auto
refuse "an extra driver argument that is not a flag" "extraArgs" --set 'controller.extraArgs[0]=rm'

step "helm template + strict API validation of each value set"
for values in "$CHART"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  "$helm" template "rds-$name" "$CHART" --namespace "ns-$name" --kube-version "$KUBE_VERSION" -f "$values" >"$OUT/helm-$name.yaml"
  "$validate" bundle "$OUT/helm-$name.yaml"
done

step "every documented StorageClass parameter renders (docs/configuration.md), and the snapshot class's"
documented=$(sed -n '/^## StorageClass parameters/,/^## /s/^| `\([A-Za-z]*\)` |.*/\1/p' docs/configuration.md)
[[ $(wc -w <<<"$documented") -ge 9 ]] || die "found only '$documented' in docs/configuration.md's StorageClass table"
every=$(awk '/^kind: StorageClass/{sc=1} /^---/{sc=0} sc' "$OUT/helm-testing-loop.yaml")
for param in $documented; do
  grep -q "^  $param: " <<<"$every" || die "StorageClass parameter $param (documented) does not render from ci/testing-loop-values.yaml"
done
echo "ok: $(wc -w <<<"$documented") StorageClass parameters render: $(echo $documented)"
grep -A3 '^parameters:' "$OUT/helm-testing-loop.yaml" | grep -c 'snapshotMethod: "file-copy"' >/dev/null ||
  die "the VolumeSnapshotClass does not render snapshots.parameters"
echo "ok: VolumeSnapshotClass parameters render"
grep -q 'lib-modules' "$OUT/helm-minimal.yaml" && die "kernel modules mounted although node.loadKernelModule=false"
echo "ok: no kernel modules mount without node.loadKernelModule"
# Controller and nodes must agree on the appliance's topology segment (issue 17 item 1): without it on the
# nodes, the provisioner's capacity objects churn and WaitForFirstConsumer pods wait ~100 s.
# (grep on a captured text, not `awk | grep -q`: grep -q exits at the first match, awk then dies of
# SIGPIPE, and pipefail failed the check at random; it did in a fresh-clone CI run)
node_ds=$(awk '/^kind: DaemonSet/{ds=1} /^---/{ds=0} ds' "$OUT/helm-minimal.yaml")
grep -q 'key: RDS_CSI_APPLIANCE_NAME' <<<"$node_ds" ||
  die "the node DaemonSet does not take RDS_CSI_APPLIANCE_NAME from the ConfigMap"
grep -q 'RDS_CSI_APPLIANCE_NAME: "rds"' "$OUT/helm-minimal.yaml" || die "the ConfigMap has no RDS_CSI_APPLIANCE_NAME"
echo "ok: controller and nodes share the appliance name (topology segment)"

step "Helm 3 renders the same objects as Helm 4"
for values in "$CHART"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  "$helm3" lint --strict "$CHART" --kube-version "$KUBE_VERSION" -f "$values" >"$OUT/lint3.log" 2>&1 ||
    { cat "$OUT/lint3.log"; die "helm 3 lint failed with $values"; }
  "$helm3" template "rds-$name" "$CHART" --namespace "ns-$name" --kube-version "$KUBE_VERSION" -f "$values" >"$OUT/helm3-$name.yaml"
  "$validate" compare "$OUT/helm-$name.yaml" "$OUT/helm3-$name.yaml"
done

step "kustomize base == helm template (deploy/kustomize/base.values.yaml)"
"$helm" template rds-csi "$CHART" --namespace rds-csi --kube-version "$KUBE_VERSION" \
  -f deploy/kustomize/base.values.yaml >"$OUT/helm-kustomize-base.yaml"
if ((update)); then
  {
    echo "# GENERATED by 'scripts/validate-deploy.sh --update' from $CHART with deploy/kustomize/base.values.yaml."
    echo "# Do not edit: change the chart (or those values) and regenerate. CI fails when this file is stale."
    cat "$OUT/helm-kustomize-base.yaml"
  } >"$BASE/rds-csi.yaml"
  echo "updated $BASE/rds-csi.yaml"
fi
"$kustomize" build "$BASE" >"$OUT/kustomize-base.yaml"
"$validate" compare "$OUT/helm-kustomize-base.yaml" "$OUT/kustomize-base.yaml" ||
  die "the kustomize base is stale: run scripts/validate-deploy.sh --update and commit $BASE"
"$validate" bundle "$OUT/kustomize-base.yaml"

step "kustomize overlay example"
"$kustomize" build deploy/kustomize/overlays/example >"$OUT/kustomize-example.yaml"
"$validate" bundle "$OUT/kustomize-example.yaml"
grep -q "replace-me.invalid" "$OUT/kustomize-example.yaml" && die "the overlay example does not set the RDS address"
grep -q "image: localhost/rds-csi-" "$OUT/kustomize-example.yaml" && die "the overlay example does not replace the chart's default images"
echo "ok: overlay sets the RDS address, images and replicas"

step "example manifests (deploy/examples)"
"$validate" examples deploy/examples/*.yaml

echo
echo "validate-deploy: all checks passed in $(($(date +%s) - started)) s"
