# rds-csi container images. Two targets from one file:
#
#   docker build --target controller -t <registry>/rds-csi-controller:<version> .   # non-root, no host tools
#   docker build --target node       -t <registry>/rds-csi-node:<version> .         # root (privileged DaemonSet)
#
# The last stage (`node`) is the default target. The Helm chart and the kustomize base run the node image
# for the DaemonSet and the controller image for the Deployment (values `image.node` / `image.controller`).
#
# Pinning. Base images are pinned by exact tag here. For a release, append the digest the tag resolves to
# (`docker buildx imagetools inspect <image:tag> --format '{{json .Manifest.Digest}}'`) as
# `--build-arg NODE_IMAGE=node:24.21.0-trixie-slim@sha256:<digest>` (and the same for DEBIAN_IMAGE), or
# edit the ARG defaults: a digest is the only pin that cannot move under you, a tag can be re-pushed.
# Digests are not committed here because this repository's CI has no registry access to resolve or verify them.
#
# Node.js. The runtime needs exactly one file from Node: the `node` binary. It is copied from the official
# node image (the same Debian release, so its glibc/libstdc++ match), which keeps npm, corepack and yarn out
# of the runtime image. NODE_IMAGE's version equals the `node` devDependency in package-lock.json, the Node
# the test suite runs on (test/deploy/dockerfile.test.ts checks that they agree).
ARG NODE_IMAGE=node:24.21.0-trixie-slim
ARG DEBIAN_IMAGE=debian:trixie-20260803-slim

# ---- build: production dependencies only --------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /opt/rds-csi
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs (ssh2's optional native crypto binding would need a compiler; the
# pure-JS path is what the tests exercise). --omit=optional drops cpu-features/nan/buildcheck, which only
# that native build uses. --omit=dev drops the test tool chain and the `node` package (the binary comes
# from the base image instead).
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -rf /root/.npm
COPY bin/ bin/
COPY src/ src/
COPY proto/ proto/
COPY scripts/build.ts scripts/build.ts
# Types are stripped once, here (scripts/build.ts, the same transform Node applies at run time): the image
# ships dist/ and no src/, so the running driver never loads Node's TypeScript stripper, about 30 MiB of
# resident memory less in every node plugin (measured by `npm run bench -- node`). bin/rds-csi runs dist/
# when src/ is absent.
RUN node scripts/build.ts && rm -rf src scripts

# ---- runtime base: Debian slim + the node binary + the application -------------------------------------
FROM ${DEBIAN_IMAGE} AS runtime
# libstdc++6 / libgcc-s1: the node binary links them dynamically (ldd). tini: PID 1 that forwards SIGTERM to
# the driver and reaps orphaned grandchildren (e.g. a mount helper left behind by a command killed at its
# timeout), which a Node process as PID 1 would not.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libstdc++6 libgcc-s1 tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* /var/log/apt /var/log/dpkg.log
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /opt/rds-csi /opt/rds-csi
ENV NODE_ENV=production
WORKDIR /opt/rds-csi
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/rds-csi/bin/rds-csi"]
CMD ["--help"]

# ---- controller: talks SSH to the RDS and gRPC on a socket; needs no host tool and no root ---------------
FROM runtime AS controller
# 65532 is the conventional "nonroot" id of distroless images; the Deployment runs every container of the
# pod (driver and sidecars) as this uid/gid so they can share the CSI socket without a world-writable mode.
USER 65532:65532
CMD ["controller"]

# ---- node: attaches NVMe/TCP, formats, mounts; runs as root in a privileged DaemonSet --------------------
FROM runtime AS node
# nvme-cli: nvme connect/disconnect. e2fsprogs: mkfs.ext4, e2fsck, resize2fs, dumpe2fs. xfsprogs: mkfs.xfs,
# xfs_repair, xfs_growfs. util-linux: blkid, lsblk, blockdev. mount: mount, umount, losetup. kmod: modprobe
# (the init container loads nvme_tcp from the host's /lib/modules). The host provides nothing but the kernel.
# systemd-standalone-sysusers satisfies nvme-cli's uuid-runtime dependency "systemd | systemd-sysusers" without
# pulling all of systemd (about 15 MB, measured on a trixie root). xfsprogs still brings python3 and libicu
# (its xfs_scrub tools), the largest part of this layer; that is the price of xfs support.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nvme-cli e2fsprogs xfsprogs util-linux mount kmod systemd-standalone-sysusers \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* /var/log/apt /var/log/dpkg.log
USER 0:0
CMD ["node"]
