#!/usr/bin/env bash
# node.sh namespaces|start|cut|connect|down b|c: an extra Kubernetes node on this host (docs/k8s-e2e.md, "Nodes").
#   namespaces: its network namespace (a veth to the cluster's namespace, /32 routes both ways, its pods'
#     subnet routed to it), its mount namespace (held by a sleeping process; / made shared inside, and
#     $STATE/nodes/X/kubelet bind-mounted over $KUBELET_DIR, so the chart's host paths are that node's own)
#     and its cgroup root. Run before anything mounts on the host: a mount namespace copies the host's
#     mounts, and a copy of node A's volume mounts would keep A's devices busy.
#   start: its containerd (with the images), kubelet and kube-proxy, inside those namespaces.
#   cut / connect: its link to the cluster's namespace (API server, appliance, other nodes) down / up.
#   down: after its processes are gone: the namespaces and the cgroup root.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/cluster/configs.sh"
n=${2:?usage: node.sh namespaces|start|cut|connect|down b|c}
ip=$(node_ip "$n") netns=$(node_netns "$n") dir=$(node_state "$n") cg=rds-k8s-$ID-$n
# connect: the link up and the routes both ways (a link set down loses its routes).
connect() {
  ip -n "$NETNS" link set "veth-$n" up
  ip -n "$netns" link set eth0 up
  ip -n "$NETNS" route replace "$ip/32" dev "veth-$n"
  ip -n "$NETNS" route replace "$(node_pod_cidr "$n")" via "$ip" dev "veth-$n"
  ip -n "$netns" route replace "$NODE_IP/32" dev eth0
  ip -n "$netns" route replace default via "$NODE_IP" dev eth0
}
case $1 in
  cut) ip -n "$NETNS" link set "veth-$n" down ;;
  connect) connect ;;
  namespaces)
    mkdir -p "$dir"/{run,containerd,cni,kubelet,pod-logs} "$STATE/pids" "$OUT/logs"
    ip netns add "$netns"
    ip -n "$netns" link set lo up
    ip -n "$NETNS" link add "veth-$n" type veth peer name eth0 netns "$netns"
    ip -n "$netns" addr add "$ip/32" dev eth0
    connect
    nsenter --net=/run/netns/"$netns" sysctl -qw net.ipv4.ip_forward=1
    # The bind mount gets its own peer group (private, then shared): as a peer of / every kubelet mount
    # would also appear under $STATE/nodes/X/kubelet.
    setsid unshare --mount --propagation private -- bash -c 'set -e
      mount --make-rshared /
      mount --bind "$1" "$2" && mount --make-private "$2" && mount --make-shared "$2"
      exec sleep infinity' _ "$dir/kubelet" "$KUBELET_DIR" >"$OUT/logs/mntns-$n.log" 2>&1 </dev/null &
    echo $! >"$STATE/pids/mntns-$n"
    wait_for 10 "the mount namespace of node $n" grep -qx sleep "/proc/$!/comm" || { cat "$OUT/logs/mntns-$n.log"; exit 1; }
    # cgroup v1: the root in every hierarchy; a new cpuset is empty until given the machine's CPUs and nodes.
    for h in /sys/fs/cgroup/*/; do mkdir -p "$h$cg"; done
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$cg/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$cg/cpuset.mems"
    ;;
  start)
    write_node_configs "$n"
    start_node_processes "$n"
    ;;
  down)
    ip netns del "$netns" 2>/dev/null
    # cgroups the kubelet and runc left under the node's root, deepest first
    for h in /sys/fs/cgroup/*/; do
      [[ -d $h$cg ]] && find "$h$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    true
    ;;
  *) echo "usage: $0 namespaces|start|cut|connect|down b|c" >&2; exit 2 ;;
esac
