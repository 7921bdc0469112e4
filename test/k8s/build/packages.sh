#!/usr/bin/env bash
# The Debian packages the cluster runs on (installed only when missing): the container runtime and its
# network plugins, etcd, iptables/conntrack for kube-proxy, buildah/podman and debootstrap for the images,
# busybox-static for the test pods' image, openssh-client to talk to the simulator like an operator.
source "$(dirname "$0")/../lib/common.sh"
pkgs=(containerd runc containernetworking-plugins etcd-server iptables conntrack buildah podman debootstrap
  busybox-static openssh-client python3)
need=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  log "packages: installing ${need[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v go >/dev/null || die "needs Go (/usr/local/go/bin): Kubernetes and the sidecars are built from the module proxy"
log "packages: ok ($(containerd --version | cut -d' ' -f3), $(runc --version | head -1), etcd $(etcd --version | sed -n 's/etcd Version: //p'), $(buildah --version | cut -d' ' -f1-3))"
