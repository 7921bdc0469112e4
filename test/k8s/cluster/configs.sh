# The configuration files of one node's processes (sourced by cluster/up.sh for node A, cluster/node.sh for
# the others). Each writes into the node's state directory: node A's is $STATE, node X's $STATE/nodes/X.

# write_node_configs a|b|c: containerd.toml, cni-conf/, kubelet.yaml and kube-proxy.yaml for that node.
write_node_configs() {
  local n=$1 dir sock kubelet_cert cgroup_root="" pod_logs=""
  dir=$(node_state "$n")
  if [[ $n == a ]]; then kubelet_cert=kubelet-server
  else kubelet_cert=kubelet-server-$n
    # Own cgroup root and pod log directory: two kubelets on one host would otherwise both manage
    # /kubepods, and each would garbage-collect the other's pod logs in /var/log/pods.
    cgroup_root="cgroupRoot: /rds-k8s-$ID-$n" pod_logs="podLogsDir: $dir/pod-logs"
  fi
  sock=$(node_containerd "$n")
  mkdir -p "$dir/cni-conf" "$dir/cni"
  cat >"$dir/cni-conf/10-rds-k8s.conflist" <<CNI
{"cniVersion": "1.0.0", "name": "rds-k8s-$ID", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$dir/cni", "ranges": [[{"subnet": "$(node_pod_cidr "$n")"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
CNI
  # restrict_oom_score_adj: this sandbox's root lacks CAP_SYS_RESOURCE, without it runc fails every sandbox.
  cat >"$dir/containerd.toml" <<TOML
version = 2
root = "$dir/containerd"
state = "$dir/run/containerd"
[grpc]
  address = "$sock"
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
        Root = "$dir/run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni-conf"
TOML
  # cgroup v1 hybrid without systemd: cgroupfs, and failCgroupV1 off (Kubernetes 1.35+ refuses v1 otherwise).
  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
$cgroup_root
$pod_logs
containerRuntimeEndpoint: unix://$sock
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $STATE/pki/ca.crt}}
authorization: {mode: Webhook}
tlsCertFile: $STATE/pki/$kubelet_cert.crt
tlsPrivateKeyFile: $STATE/pki/$kubelet_cert.key
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
# Absolute disk thresholds: every node's filesystem is the CI host's shared disk, and 1% of a 252 GiB disk
# (2.5 GiB) is a third of what the whole cluster needs.
evictionHard: {memory.available: "100Mi", nodefs.available: "512Mi", imagefs.available: "512Mi", nodefs.inodesFree: "1%"}
syncFrequency: 10s
# The attach-detach controller keeps a VolumeAttachment it could not attach (scenario 9's refused node) until
# the node's next status says the volume is not in use; at the default 5 min that took 18-212 s here.
nodeStatusReportFrequency: 20s
YAML
  cat >"$dir/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/pki/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: 10.244.0.0/16
conntrack: {maxPerCore: 0}
YAML
}

# start_node_processes a|b|c: containerd (with the images), kubelet and kube-proxy of that node.
start_node_processes() {
  local n=$1 dir sfx="" t tar
  dir=$(node_state "$n")
  [[ $n == a ]] || sfx=-$n
  start_on "$n" "containerd$sfx" containerd --config "$dir/containerd.toml"
  wait_for 30 "containerd of node $n" ctr --address "$(node_containerd "$n")" version
  t=$SECONDS
  for tar in $(cat "$CACHE/images/current"); do ctr --address "$(node_containerd "$n")" images import "$tar" >/dev/null; done
  log "cluster: node $n: containerd up, images imported in $((SECONDS - t)) s"
  start_node_process "$n" kubelet
  start_node_process "$n" kube-proxy
}

# start_node_process a|b|c kubelet|kube-proxy: one of them (also how scenario 11 restarts a lost node's).
start_node_process() {
  local n=$1 dir sfx="" kubeconfig=$STATE/pki/kubelet.kubeconfig
  dir=$(node_state "$n")
  [[ $n == a ]] || sfx=-$n kubeconfig=$STATE/pki/kubelet-$n.kubeconfig
  case $2 in
    kubelet) start_on "$n" "kubelet$sfx" kubelet --config="$dir/kubelet.yaml" --kubeconfig="$kubeconfig" \
      --root-dir="$KUBELET_DIR" --node-ip="$(node_ip "$n")" --hostname-override="$(node_name "$n")" --v=2 ;;
    kube-proxy) start_on "$n" "kube-proxy$sfx" kube-proxy --config="$dir/kube-proxy.yaml" --hostname-override="$(node_name "$n")" ;;
  esac
}
