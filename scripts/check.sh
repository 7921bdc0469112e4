#!/usr/bin/env bash
# The one test command: installs what the tests need (Debian packages, npm dependencies with Node 24,
# csi-sanity from the Go module proxy), then typechecks, lints, runs the test suite (real SSH, real loop
# devices, real mkfs/fsck/mount) and the real csi-sanity for both access types. Needs root.
# .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
section() { printf '\n\033[1;36m== %s ==\033[0m\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then echo "scripts/check.sh: needs root (loop devices, mkfs, mount)" >&2; exit 1; fi

section "system packages"
need=()
for pkg in e2fsprogs xfsprogs util-linux mount kmod; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "ok: e2fsprogs xfsprogs util-linux mount kmod"

section "npm dependencies (Node 24 from the node@24 package)"
# `npm install` from the committed lock file, not `npm ci`: this machine's npm registry lacks the other
# platforms' optional binaries of @biomejs/biome (darwin, win32, musl), which `npm ci` insists on seeing in
# the lock. The lock must not change: a drifting lock fails the run.
npm install --no-audit --no-fund --loglevel=error
git diff --exit-code --stat package-lock.json
echo "node $(node_modules/.bin/node --version)"
export PATH="$PWD/node_modules/.bin:$PATH"

section "typecheck and lint"
tsc --noEmit -p .
biome check src test bench scripts
echo "ok"

mkdir -p out
section "deploy files (helm, kustomize, strict API validation)"
deploy_status=0
scripts/validate-deploy.sh || deploy_status=$?

section "test suite (vitest)"
vitest_status=0
vitest run --reporter=default --reporter=json --outputFile.json=out/vitest.json || vitest_status=$?

section "csi-sanity (kubernetes-csi/csi-test v5.5.0)"
sanity_status=0
node test/sanity/run-csi-sanity.ts || sanity_status=$?

section "NVMe/TCP end-to-end in a qemu VM (npm run test:e2e; docs/e2e.md)"
e2e_status=0
npm run --silent test:e2e || e2e_status=$?

section "summary"
node scripts/summarize-tests.ts out/vitest.json out/csi-sanity/junit-mount.xml out/csi-sanity/junit-block.xml \
  out/e2e/junit.xml out/e2e/csi-sanity/junit-mount.xml out/e2e/csi-sanity/junit-block.xml
echo "took $(( $(date +%s) - started )) s"
exit $(( vitest_status || sanity_status || deploy_status || e2e_status ))
