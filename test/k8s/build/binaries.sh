#!/usr/bin/env bash
# Builds every Go program the cluster needs in ONE Go workspace (one `go build`, shared dependency versions:
# about 8 minutes cold on 2 cores instead of about 20 when built one by one):
#   Kubernetes $K8S_VERSION (k8s.io/kubernetes from the module proxy, its ./staging replaces re-pointed at
#   the published k8s.io/* $K8S_STAGING modules), the CSI sidecars the chart pins, the snapshot-controller,
#   and our stand-ins (test/k8s/standins). Output: $BIN, skipped when its stamp matches (versions + stand-in
#   sources). Go's own build and module caches (~/.cache/go-build, ~/go/pkg/mod) make a rebuild in a fresh
#   clone on the same machine a link-only step.
source "$(dirname "$0")/../lib/common.sh"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# helm: the version and cache scripts/validate-deploy.sh uses (.cache/bin/helm with a version stamp).
helm_version=$(sed -n 's/^HELM_VERSION=\([^ ]*\).*/\1/p' "$K8S_ROOT/scripts/validate-deploy.sh")
if [[ ! -x $K8S_ROOT/.cache/bin/helm || ! -f $K8S_ROOT/.cache/bin/helm.$helm_version ]]; then
  log "binaries: helm $helm_version"
  mkdir -p "$K8S_ROOT/.cache/bin"
  GOBIN=$K8S_ROOT/.cache/bin go install "helm.sh/helm/v4/cmd/helm@$helm_version"
  rm -f "$K8S_ROOT/.cache/bin"/helm.v* && touch "$K8S_ROOT/.cache/bin/helm.$helm_version"
fi

key=$( { cat "$K8S_DIR/lib/versions.sh" "$0"; cat "$K8S_DIR"/standins/go.* "$K8S_DIR"/standins/cmd/*/*.go; } | sha256sum | cut -c1-16)
if [[ -f $BIN/.stamp && $(cat "$BIN/.stamp") == "$key" ]]; then log "binaries: cached ($BIN)"; exit 0; fi

mods=(
  "k8s.io/kubernetes@$K8S_VERSION"
  "github.com/kubernetes-csi/external-provisioner/v6@$PROVISIONER_VERSION"
  "github.com/kubernetes-csi/external-attacher/v4@$ATTACHER_VERSION"
  "github.com/kubernetes-csi/external-resizer/v2@$RESIZER_VERSION"
  "github.com/kubernetes-csi/external-snapshotter/v8@$SNAPSHOTTER_VERSION"
  "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_VERSION"
)
log "binaries: downloading ${#mods[@]} modules"
go mod download "${mods[@]}"
modcache=$(go env GOMODCACHE)

# Writable copies (the module cache is read-only); vendor/ and nested go.work files are not ours to use.
ws=$CACHE/ws-$key
rm -rf "$ws" && mkdir -p "$ws"
for m in "${mods[@]:0:5}"; do
  name=${m%@*}; name=${name#*/}; name=${name#kubernetes-csi/}; name=${name%%/*}   # kubernetes, external-*
  mkdir -p "$ws/$name"
  tar -C "$modcache/$m" --exclude=./vendor --exclude=./go.work --exclude=./go.work.sum -cf - . | tar -C "$ws/$name" -xf -
  chmod -R u+w "$ws/$name"
done
# Every module's replace of a k8s.io staging module (a local path in kubernetes, older versions in the
# sidecars) is overridden in go.work by the one published version; the snapshotter's ./client likewise.
staging=$(sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$ws/kubernetes/go.mod" | sort -u)
{
  echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//').0"
  echo "use ("
  for d in kubernetes external-provisioner external-attacher external-resizer external-snapshotter; do echo "  ./$d"; done
  echo "  $K8S_DIR/standins"
  echo ")"
  echo "replace ("
  for s in $staging; do echo "  $s => $s $K8S_STAGING"; done
  echo "  github.com/kubernetes-csi/external-snapshotter/client/v8 => github.com/kubernetes-csi/external-snapshotter/client/v8 $SNAPSHOTTER_VERSION"
  echo ")"
} >"$ws/go.work"
( cd "$ws/external-snapshotter" && go mod edit -dropreplace=github.com/kubernetes-csi/external-snapshotter/client/v8 )
( cd "$ws/kubernetes" && for s in $staging; do go mod edit -replace="$s=$s@$K8S_STAGING"; done )

ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=${K8S_VERSION:1:1} -X $p.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION")"
  ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
log "binaries: go build (cold: about 8 minutes on 2 cores)"
started=$SECONDS
mkdir -p "$BIN.tmp"
cd "$ws"
GOWORK=$ws/go.work GOFLAGS= go build -trimpath -ldflags "$ld" -o "$BIN.tmp/" \
  ./kubernetes/cmd/kube-apiserver ./kubernetes/cmd/kube-controller-manager ./kubernetes/cmd/kube-scheduler \
  ./kubernetes/cmd/kubelet ./kubernetes/cmd/kube-proxy ./kubernetes/cmd/kubectl \
  ./external-provisioner/cmd/csi-provisioner ./external-attacher/cmd/csi-attacher \
  ./external-resizer/cmd/csi-resizer ./external-snapshotter/cmd/csi-snapshotter \
  ./external-snapshotter/cmd/snapshot-controller \
  rds-csi/test/k8s/standins/cmd/...
rm -rf "$BIN" && mv "$BIN.tmp" "$BIN" && echo "$key" >"$BIN/.stamp"
rm -rf "$ws"
log "binaries: built $(ls "$BIN" | wc -l) in $((SECONDS - started)) s"
