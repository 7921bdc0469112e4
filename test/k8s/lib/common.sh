# Shared paths and helpers of the real-cluster suite (sourced by every script under test/k8s).
set -euo pipefail
K8S_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)   # the repository
K8S_DIR=$K8S_ROOT/test/k8s
# shellcheck source=versions.sh
source "$K8S_DIR/lib/versions.sh"
CACHE=${RDS_CSI_K8S_CACHE:-$K8S_ROOT/.cache/k8s}   # built binaries and images, keyed by version
OUT=$K8S_ROOT/out/k8s                              # logs, JUnit report, artefacts kept on failure
# Everything machine-global is named after this checkout, so a CI clone and a working tree on the same
# machine never share a network namespace, a directory or a loop device.
ID=$(printf %s "$K8S_ROOT" | sha256sum | cut -c1-6)
STATE=/var/lib/rds-csi-k8s-$ID                     # containerd, kubelet, etcd, PKI, the simulator's disks
NETNS=rds-k8s-$ID                                  # the cluster's network namespace (no route out)
NODE_IP=10.251.0.10                                # the node and the simulator, inside $NETNS only
SIM_PORT=2222
SIM_DATA=$STATE/sim                                # the simulator's disk files = the node's loopRoot
KUBELET_DIR=$STATE/kubelet                         # a non-default kubelet dir: the chart's kubeletDir value
NS=rds-csi                                         # the driver's namespace
BIN=$CACHE/bin-$K8S_VERSION
export PATH=$BIN:$K8S_ROOT/.cache/bin:$K8S_ROOT/node_modules/.bin:/usr/local/go/bin:/usr/sbin:/sbin:$PATH
export KUBECONFIG=$STATE/pki/admin.kubeconfig
export CONTAINERD_ADDRESS=$STATE/run/containerd.sock
export CONTAINERD_NAMESPACE=k8s.io

log() { printf '[k8s %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
in_ns() { nsenter --net=/run/netns/"$NETNS" -- "$@"; }
k() { in_ns kubectl "$@"; }
helm() { in_ns "$K8S_ROOT/.cache/bin/helm" "$@"; }
# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every second until it succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 1
  done
}
# start NAME COMMAND...: a cluster process in the netns (network only: the host's mount namespace, so
# kubelet's and containerd's mounts are the host's), logging to $OUT/logs/NAME.log, pid in $STATE/pids.
start() {
  local name=$1; shift
  mkdir -p "$OUT/logs" "$STATE/pids"
  setsid nsenter --net=/run/netns/"$NETNS" -- "$@" >"$OUT/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}
