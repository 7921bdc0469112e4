#!/usr/bin/env bash
# The one test command: installs what the tests need (Debian packages, npm dependencies with Node 24,
# csi-sanity from the Go module proxy), then typechecks, lints, runs the test suite (real SSH, real loop
# devices, real mkfs/fsck/mount) and the real csi-sanity for both access types. Needs root.
# .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
last=$started
# Each section header says how long the previous section took, so a slow step is visible in every run.
section() {
  local now; now=$(date +%s)
  if [[ -n ${current:-} ]]; then printf '(%s: %s s)\n' "$current" "$((now - last))"; fi
  current=$*; last=$now
  printf '\n\033[1;36m== %s ==\033[0m\n' "$*"
}
# Neither README command may change a tracked file. In a git checkout, the tree must be as clean after the
# install (and at the end) as it was before; a run on a tree with the developer's own edits checks that those
# edits are all that differ.
tree_state() { git status --porcelain --untracked-files=no 2>/dev/null || true; }
tree_before=$(tree_state)
check_tree_unchanged() {
  local now; now=$(tree_state)
  if [[ $now != "$tree_before" ]]; then
    echo "scripts/check.sh: $1 modified tracked files:" >&2
    diff <(echo "$tree_before") <(echo "$now") >&2 || true
    return 1
  fi
}

if [[ $(id -u) -ne 0 ]]; then echo "scripts/check.sh: needs root (loop devices, mkfs, mount)" >&2; exit 1; fi

section "system packages"
need=()
for pkg in e2fsprogs xfsprogs util-linux mount kmod; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if ((${#need[@]})); then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null
fi
echo "ok: e2fsprogs xfsprogs util-linux mount kmod"
# The later sections need about 20 GiB on a cold machine (README); a full disk shows up late and obscurely.
echo "disk: $(df -Pm . | awk 'NR == 2 { printf "%.1f GiB free", $4 / 1024 }') under $PWD"

section "npm dependencies (npm ci from the complete lock file; Node 24 from the node@24 package)"
# `npm ci` installs exactly the lock and refuses a lock that disagrees with package.json (EUSAGE), so the
# install is the same on every machine and never rewrites package-lock.json. test/repo/lockfile.test.ts
# checks the same agreement (and the lock's completeness) without installing.
npm ci --no-audit --no-fund --loglevel=error
check_tree_unchanged "npm ci" || exit 1
echo "node $(node_modules/.bin/node --version)"
export PATH="$PWD/node_modules/.bin:$PATH"

section "typecheck and lint"
tsc --noEmit -p .
biome check src test bench scripts
node scripts/check-import-cycles.ts src
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

section "real Kubernetes: our images and Helm chart in a three-node v1.37.2 cluster (npm run test:k8s; docs/k8s-e2e.md)"
k8s_status=0
npm run --silent test:k8s || k8s_status=$?

section "summary"
tree_status=0
check_tree_unchanged "the test run" || tree_status=1
node scripts/summarize-tests.ts "deploy files=$deploy_status:" "vitest=$vitest_status:out/vitest.json" \
  "csi-sanity=$sanity_status:out/csi-sanity/junit-mount.xml,out/csi-sanity/junit-block.xml" \
  "e2e=$e2e_status:out/e2e/junit.xml,out/e2e/csi-sanity/junit-mount.xml,out/e2e/csi-sanity/junit-block.xml" \
  "k8s=$k8s_status:out/k8s/junit.xml" "tracked files unchanged=$tree_status:"
echo "took $(( $(date +%s) - started )) s"
exit $(( vitest_status || sanity_status || deploy_status || e2e_status || k8s_status || tree_status ))
