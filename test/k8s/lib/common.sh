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

# The nodes. Node A is the host itself (the control plane's network namespace, the host's mount namespace).
# Each extra node is a mount namespace and a network namespace of the host with its own kubelet, containerd,
# kube-proxy, kubelet directory (bind-mounted over $KUBELET_DIR, so the chart's host paths are the same on
# every node), cgroup root, IP and node name: cluster/node.sh. K8S_NODES sets how many (1-3; default 3).
NODE_A=$(hostname)
EXTRA_NODES=(b c)
EXTRA_NODES=("${EXTRA_NODES[@]:0:$((${K8S_NODES:-3} - 1))}")
node_name() { [[ $1 == a ]] && echo "$NODE_A" || echo "$NODE_A-$1"; }          # a|b|c -> Node name
node_ip() { case $1 in a) echo "$NODE_IP" ;; b) echo 10.251.0.11 ;; c) echo 10.251.0.12 ;; esac; }
node_pod_cidr() { case $1 in a) echo 10.244.0.0/24 ;; b) echo 10.244.1.0/24 ;; c) echo 10.244.2.0/24 ;; esac; }
node_netns() { echo "$NETNS-$1"; }
node_state() { [[ $1 == a ]] && echo "$STATE" || echo "$STATE/nodes/$1"; }
node_containerd() { echo "$(node_state "$1")/run/containerd.sock"; }
# The letter of a Node name (inverse of node_name).
node_letter() { local x; for x in a "${EXTRA_NODES[@]}"; do [[ $(node_name "$x") == "$1" ]] && { echo "$x"; return; }; done; return 1; }
# on_node a|b|c COMMAND...: run COMMAND in that node's network and mount namespaces (findmnt, losetup,
# ctr show what that node's kubelet sees).
on_node() { local n=$1; shift; node_enter "$n"; "${ENTER[@]}" "$@"; }
# node_enter a|b|c: ENTER=(the nsenter command that enters that node's namespaces); nsenter execs, so a
# process started through it keeps nsenter's pid.
node_enter() {
  if [[ $1 == a ]]; then ENTER=(nsenter --net=/run/netns/"$NETNS" --); return; fi
  ENTER=(nsenter --net=/run/netns/"$(node_netns "$1")" --mount=/proc/"$(cat "$STATE/pids/mntns-$1")"/ns/mnt --)
}

log() { printf '[k8s %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
in_ns() { on_node a "$@"; }
k() { in_ns kubectl "$@"; }
helm() { in_ns "$K8S_ROOT/.cache/bin/helm" "$@"; }
# free_mib PATH: MiB free on the filesystem of PATH.
free_mib() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }
# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every second until it succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 1
  done
}
# start NAME COMMAND...: a cluster process of node A in the netns (network only: the host's mount namespace,
# so kubelet's and containerd's mounts are the host's), logging to $OUT/logs/NAME.log, pid in $STATE/pids.
start() { start_on a "$@"; }
# start_on a|b|c NAME COMMAND...: the same on that node (its network and mount namespaces).
start_on() {
  local n=$1 name=$2; shift 2
  mkdir -p "$OUT/logs" "$STATE/pids"
  node_enter "$n"
  setsid "${ENTER[@]}" "$@" >>"$OUT/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}
