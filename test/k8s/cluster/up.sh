#!/usr/bin/env bash
# Brings the one-node cluster up from nothing: network namespace, PKI, containerd (Debian's, CRI), the
# images, etcd, kube-apiserver, controller-manager, scheduler, kubelet and kube-proxy, until the node is
# Ready. Every process runs in $NETNS and logs to out/k8s/logs/. cluster/down.sh undoes all of it.
source "$(dirname "$0")/../lib/common.sh"
started=$SECONDS
[[ -d /run/netns/$NETNS ]] && die "netns $NETNS exists: a cluster of this checkout is up (test/k8s/cluster/down.sh)"
mkdir -p "$STATE"/{run,containerd,etcd,cni,kubelet,sim} "$OUT/logs"
"$K8S_DIR/cluster/netns.sh" up
"$K8S_DIR/cluster/pki.sh"
P=$STATE/pki node_name=$(hostname)

# ---- configuration ---------------------------------------------------------------------------------------
mkdir -p "$STATE/cni-conf"
cat >"$STATE/cni-conf/10-rds-k8s.conflist" <<CNI
{"cniVersion": "1.0.0", "name": "rds-k8s-$ID", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$STATE/cni", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
CNI
# restrict_oom_score_adj: this sandbox's root lacks CAP_SYS_RESOURCE, without it runc fails every sandbox.
cat >"$STATE/containerd.toml" <<TOML
version = 2
root = "$STATE/containerd"
state = "$STATE/run/containerd"
[grpc]
  address = "$CONTAINERD_ADDRESS"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10.1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$STATE/run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni-conf"
TOML
# cgroup v1 hybrid without systemd: cgroupfs, and failCgroupV1 off (Kubernetes 1.35+ refuses v1 otherwise).
cat >"$STATE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_ADDRESS
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $P/ca.crt}}
authorization: {mode: Webhook}
tlsCertFile: $P/kubelet-server.crt
tlsPrivateKeyFile: $P/kubelet-server.key
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
syncFrequency: 10s
YAML
cat >"$STATE/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $P/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: 10.244.0.0/24
conntrack: {maxPerCore: 0}
YAML

# ---- containerd and the images ---------------------------------------------------------------------------
start containerd containerd --config "$STATE/containerd.toml"
wait_for 30 containerd ctr version
t=$SECONDS
for tar in $(cat "$CACHE/images/current"); do ctr images import "$tar" >/dev/null; done
log "cluster: containerd up, $(ctr images ls -q | grep -vc '^sha256:') images imported in $((SECONDS - t)) s"

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
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true
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
start kubelet kubelet --config="$STATE/kubelet.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
  --root-dir="$KUBELET_DIR" --node-ip="$NODE_IP" --hostname-override="$node_name" --v=2
start kube-proxy kube-proxy --config="$STATE/kube-proxy.yaml" --hostname-override="$node_name"
wait_for 120 "the node to be Ready" k wait --for=condition=Ready node --all --timeout=2s
wait_for 60 "the default ServiceAccount" k get serviceaccount default
log "cluster: node $node_name Ready, $((SECONDS - started)) s after start"
