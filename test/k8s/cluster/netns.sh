#!/usr/bin/env bash
# netns.sh up|down: the cluster's private network namespace. The node address lives on a veth pair whose
# both ends stay inside, so nothing in the cluster can reach or be reached from outside the machine.
source "$(dirname "$0")/../lib/common.sh"
case ${1:-} in
  up)
    mkdir -p "$STATE" && ip netns list | awk '{print $1}' >"$STATE/netns-before"
    ip netns add "$NETNS"
    ip -n "$NETNS" link set lo up
    ip -n "$NETNS" link add k8s0 type veth peer name k8s0peer
    ip -n "$NETNS" addr add "$NODE_IP/24" dev k8s0
    ip -n "$NETNS" link set k8s0peer up
    ip -n "$NETNS" link set k8s0 up
    ip -n "$NETNS" route add default dev k8s0
    in_ns sysctl -qw net.ipv4.ip_forward=1
    ;;
  down)
    # Pod sandboxes' namespaces that CNI left behind (created while this cluster ran), then ours.
    if [[ -f $STATE/netns-before ]]; then
      for n in $(ip netns list | awk '/^cni-/{print $1}'); do
        grep -qx "$n" "$STATE/netns-before" || { ip netns del "$n" && log "deleted leftover netns $n"; }
      done
    fi
    ip netns del "$NETNS" 2>/dev/null || true
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
