# Shared paths and helpers of the real-cluster suite (sourced by every script under test/k8s).
set -euo pipefail
K8S_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)   # the repository
K8S_DIR=$K8S_ROOT/test/k8s
# shellcheck source=versions.sh
source "$K8S_DIR/lib/versions.sh"
CACHE=${RDS_CSI_K8S_CACHE:-$K8S_ROOT/.cache/k8s}           # built binaries and images, keyed by version
OUT=$K8S_ROOT/out/k8s                                      # logs, JUnit, kept artefacts
RUN=${RDS_CSI_K8S_RUN:-/run/rds-csi-k8s}                   # live cluster state (short path: unix sockets)
NETNS=rds-csi-k8s                                          # the cluster's network namespace
NODE_IP=10.251.0.10                                        # kube node and the RDS simulator, inside $NETNS
SIM_PORT=2222                                              # the simulator's SSH port
NS=rds-csi                                                 # the driver's namespace
BIN=$CACHE/bin-$K8S_VERSION
export PATH=$BIN:$K8S_ROOT/.cache/bin:$K8S_ROOT/node_modules/.bin:/usr/local/go/bin:$PATH
export KUBECONFIG=$RUN/pki/admin.kubeconfig
export CONTAINERD_ADDRESS=$RUN/containerd/containerd.sock

log() { printf '[k8s %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
in_ns() { nsenter --net=/run/netns/$NETNS -- "$@"; }
k() { in_ns kubectl "$@"; }
# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every second until it succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 1
  done
}
