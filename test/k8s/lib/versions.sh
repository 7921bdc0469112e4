# Pinned versions of everything the real-cluster suite builds. Caches under .cache/k8s/ are keyed by these,
# so changing a version rebuilds what depends on it and nothing else.
K8S_VERSION=v1.37.2        # kube-apiserver, controller-manager, scheduler, kubelet, kube-proxy, kubectl
K8S_STAGING=v0.37.2        # the published k8s.io/* staging modules of that release
# CSI sidecars: the versions deploy/helm/rds-csi/values.yaml pins (test/k8s/build/images.sh checks this).
PROVISIONER_VERSION=v6.4.0
ATTACHER_VERSION=v4.13.0
RESIZER_VERSION=v2.3.0
SNAPSHOTTER_VERSION=v8.7.0
# Base images of the Dockerfile are made locally from a Debian root (no registry is reachable).
DEBIAN_SUITE=trixie
