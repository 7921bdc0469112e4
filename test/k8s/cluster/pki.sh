#!/usr/bin/env bash
# A throw-away PKI for the cluster (made fresh at every run, 10 minutes' validity would do; 2 days):
# a CA, the API server's serving certificate, client certificates for each component and the admin, the
# kubelet's serving certificate, the service-account key pair, and one kubeconfig per client.
source "$(dirname "$0")/../lib/common.sh"
P=$STATE/pki
rm -rf "$P" && mkdir -p "$P" && cd "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=rds-csi-k8s-ca 2>/dev/null
openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
# cert NAME CN ORG USAGE [SANS]
cert() {
  local name=$1 cn=$2 org=$3 usage=$4 sans=${5:-}
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn${org:+/O=$org}" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -z $sans ]] || echo "subjectAltName=$sans"
  } >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
cert apiserver kube-apiserver "" serverAuth \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:10.96.0.1"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
cert kubelet-server "$NODE_A" "" serverAuth "DNS:$NODE_A,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
for n in "${EXTRA_NODES[@]}"; do
  cert "kubelet-server-$n" "$(node_name "$n")" "" serverAuth "DNS:$(node_name "$n"),DNS:localhost,IP:127.0.0.1,IP:$(node_ip "$n")"
done
# kubeconfig NAME CN ORG
kubeconfig() {
  cert "$1-client" "$2" "$3" clientAuth
  cat >"$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: rds-csi-k8s
  cluster: {server: "https://$NODE_IP:6443", certificate-authority-data: $(base64 -w0 ca.crt)}
users:
- name: $1
  user: {client-certificate-data: $(base64 -w0 "$1-client.crt"), client-key-data: $(base64 -w0 "$1-client.key")}
contexts:
- name: $1
  context: {cluster: rds-csi-k8s, user: $1}
current-context: $1
KC
}
kubeconfig admin kubernetes-admin system:masters
kubeconfig controller-manager system:kube-controller-manager ""
kubeconfig scheduler system:kube-scheduler ""
kubeconfig kubelet "system:node:$NODE_A" system:nodes
for n in "${EXTRA_NODES[@]}"; do kubeconfig "kubelet-$n" "system:node:$(node_name "$n")" system:nodes; done
kubeconfig kube-proxy system:kube-proxy ""
