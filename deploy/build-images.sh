#!/usr/bin/env bash
# Builds both rds-csi images from the top-level Dockerfile, named and tagged the way the Helm chart renders
# them by default (values image.controller / image.node, tag = the chart's appVersion):
#
#   deploy/build-images.sh                                   # localhost/rds-csi-{controller,node}:<version>
#   deploy/build-images.sh registry.example.com/storage --push
#                                  # registry.example.com/storage/rds-csi-{controller,node}:<version>, pushed
#
# With a registry prefix, install the chart with the same prefix (docs/install.md, "Images"):
#   --set image.controller.repository=registry.example.com/storage/rds-csi-controller
#   --set image.node.repository=registry.example.com/storage/rds-csi-node
#
# BUILDER picks the tool: docker, podman or buildah (default: the first one found). BUILD_FLAGS adds flags
# to every build (the real-cluster suite passes `--isolation chroot --network host --pull-never`).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-localhost}
push=${2:-}
version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' deploy/helm/rds-csi/Chart.yaml)
[[ -n $version ]] || { echo "build-images: no appVersion in deploy/helm/rds-csi/Chart.yaml" >&2; exit 1; }
builder=${BUILDER:-$(command -v docker || command -v podman || command -v buildah || true)}
builder=$(basename "${builder:-none}")
case $builder in
  docker | podman) build=("$builder" build) ;;
  buildah) build=(buildah bud) ;;
  *) echo "build-images: needs docker, podman or buildah (BUILDER=...)" >&2; exit 1 ;;
esac
read -r -a flags <<<"${BUILD_FLAGS:-}"
for target in controller node; do
  ref=$prefix/rds-csi-$target:$version
  echo "build-images: $ref ($builder, --target $target)"
  "${build[@]}" "${flags[@]}" --target "$target" -t "$ref" -f Dockerfile .
  if [[ $push == --push ]]; then "$builder" push "$ref"; fi
done
