#!/usr/bin/env bash
# Tears the cluster down and leaves nothing behind: workloads and PVCs first (while the driver still runs,
# so kubelet unpublishes and unstages and the provisioner deletes disks), then the driver, then every
# process this cluster started (by the PIDs recorded at start, and the containerd shims by their socket
# directory), then mounts under $STATE, loop devices backed by the simulator's files, network namespaces,
# and $STATE itself. Safe to run twice and after a half-started cluster.
source "$(dirname "$0")/../lib/common.sh"
set +e
stop() { # NAME: SIGTERM, up to 10 s, then SIGKILL
  local f=$STATE/pids/$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
if [[ -f $STATE/pids/kube-apiserver ]] && k get --raw /readyz >/dev/null 2>&1; then
  for ns in $(k get ns -o name | cut -d/ -f2 | grep -vE "^(kube-system|kube-public|kube-node-lease|$NS)$"); do
    k -n "$ns" delete pod,deploy --all --wait=true --timeout=90s >/dev/null 2>&1
    k -n "$ns" delete pvc --all --wait=true --timeout=90s >/dev/null 2>&1
  done
  k delete volumesnapshot --all -A --wait=true --timeout=60s >/dev/null 2>&1
  # wait for the provisioner to delete the PVs (and with them the disks on the simulator)
  for _ in $(seq 60); do [[ -z $(k get pv -o name 2>/dev/null) ]] && break; sleep 1; done
  helm uninstall rds-csi -n "$NS" --wait --timeout 90s >/dev/null 2>&1
  k delete pod --all -A --grace-period=1 --wait=true --timeout=60s >/dev/null 2>&1
fi
# the extra nodes this cluster had (whatever K8S_NODES says now)
extra=()
for d in "$STATE"/nodes/*/; do [[ -d $d ]] && extra+=("$(basename "$d")"); done
for n in kube-proxy kube-scheduler kube-controller-manager kubelet; do
  stop "$n"
  for x in "${extra[@]}"; do stop "$n-$x"; done
done
for x in a "${extra[@]}"; do
  sock=$(node_containerd "$x")
  [[ -S $sock ]] || continue
  for t in $(ctr --address "$sock" tasks ls -q 2>/dev/null); do ctr --address "$sock" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr --address "$sock" tasks ls -q 2>/dev/null); do ctr --address "$sock" tasks delete -f "$t" >/dev/null 2>&1; done
done
for n in kube-apiserver etcd containerd rds-sim; do stop "$n"; done
for x in "${extra[@]}"; do stop "containerd-$x"; done
# shims of our containerds (found by their state directories on the command line, PID by PID)
for pid in $(pgrep -f "containerd-shim-runc-v2 .*$STATE/" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
# the extra nodes' mount namespaces end with their holders (their mounts with them), then their
# network namespaces and cgroup roots
for x in "${extra[@]}"; do stop "mntns-$x"; "$K8S_DIR/cluster/node.sh" down "$x"; done
# mounts under our state directory (kubelet's volumes, containerd's rootfs and shm), deepest first
for _ in 1 2 3; do
  mapfile -t mounts < <(findmnt -rn -o TARGET | grep -F "$STATE/" | sort -r)
  ((${#mounts[@]})) || break
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done
# loop devices over the simulator's disk files (kubelet's block-volume loops and the node plugin's)
# (a loop the node plugin attached shows its file relative to the plugin container's mount of the
# simulator's directory once that container is gone: /storage-pool/rds-csi/pvc-<uuid>.img)
for dev in $(losetup -l -n -O NAME,BACK-FILE | awk -v d="$STATE/" \
  'index($2, d) == 1 || $2 ~ /^\/storage-pool\/rds-csi\/pvc-[0-9a-f-]+\.img$/ {print $1}'); do
  losetup -d "$dev" && log "down: detached $dev"
done
"$K8S_DIR/cluster/netns.sh" down
left=$(findmnt -rn -o TARGET | grep -cF "$STATE/"; losetup -l -n -O BACK-FILE | grep -cE "^($STATE/|/storage-pool/rds-csi/pvc-)")
rm -rf "$STATE" 2>/dev/null || log "down: could not remove all of $STATE"
[[ $(tr -d '\n' <<<"$left") == 00 ]] || { log "down: left mounts/loops: $left"; exit 1; }
log "down: cluster gone (no mounts, loop devices, processes or network namespaces of $STATE left)"
