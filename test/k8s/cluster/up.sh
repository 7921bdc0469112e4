#!/usr/bin/env bash
# Brings the cluster up from nothing: network namespaces, the extra nodes' mount namespaces, PKI, etcd,
# kube-apiserver, controller-manager, scheduler, then on every node containerd (Debian's, CRI) with the
# images, kubelet and kube-proxy, until all nodes are Ready. Node A's processes and the control plane run in
# $NETNS, each extra node's in its own namespaces (cluster/node.sh); every process logs to out/k8s/logs/.
# cluster/down.sh undoes all of it.
source "$(dirname "$0")/../lib/common.sh"
started=$SECONDS
[[ -d /run/netns/$NETNS ]] && die "netns $NETNS exists: a cluster of this checkout is up (test/k8s/cluster/down.sh)"
mkdir -p "$STATE"/{run,containerd,etcd,cni,kubelet,sim} "$OUT/logs"
"$K8S_DIR/cluster/netns.sh" up
for n in "${EXTRA_NODES[@]}"; do "$K8S_DIR/cluster/node.sh" namespaces "$n"; done
"$K8S_DIR/cluster/pki.sh"
P=$STATE/pki
source "$K8S_DIR/cluster/configs.sh"
write_node_configs a

# ---- control plane ---------------------------------------------------------------------------------------
start etcd etcd --data-dir "$STATE/etcd" --listen-client-urls http://127.0.0.1:2379 \
  --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
  --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster default=http://127.0.0.1:2380 --unsafe-no-fsync
start kube-apiserver kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
  --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 --service-cluster-ip-range=10.96.0.0/24 \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$P/ca.crt" \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
  --kubelet-preferred-address-types=InternalIP
wait_for 120 "the API server" k get --raw /readyz
log "cluster: API server ready"
start kube-controller-manager kube-controller-manager --kubeconfig="$P/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$P/controller-manager.kubeconfig" --authorization-kubeconfig="$P/controller-manager.kubeconfig" \
  --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
  --use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1
start kube-scheduler kube-scheduler --kubeconfig="$P/scheduler.kubeconfig" \
  --authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1
start_node_processes a
# The other nodes side by side (their image imports overlap), each logging to out/k8s/logs/node-X.log.
pids=()
for n in "${EXTRA_NODES[@]}"; do "$K8S_DIR/cluster/node.sh" start "$n" >"$OUT/logs/node-$n.log" 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || die "an extra node did not start (out/k8s/logs/node-*.log)"; done
nodes=$((1 + ${#EXTRA_NODES[@]}))
registered() { [[ $(k get nodes -o name | wc -l) -eq $nodes ]]; }
wait_for 120 "$nodes nodes to register" registered
wait_for 120 "the nodes to be Ready" k wait --for=condition=Ready node --all --timeout=2s
wait_for 60 "the default ServiceAccount" k get serviceaccount default
log "cluster: $nodes nodes Ready ($(k get nodes -o name | cut -d/ -f2 | tr '\n' ' ')), $((SECONDS - started)) s after start"
log "cluster: $(du -sxm "$STATE" | cut -f1) MiB under $STATE, $(free_mib "$STATE") MiB free"
