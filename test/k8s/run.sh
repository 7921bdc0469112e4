#!/usr/bin/env bash
# `npm run test:k8s`: rds-csi in a real three-node Kubernetes ($K8S_VERSION), installed with our Helm chart
# from images built from our Dockerfile, against the RDS simulator (docs/k8s-e2e.md).
#   build (cached by version) -> cluster up -> simulator + Secret + helm install -> scenarios -> teardown
# Writes out/k8s/junit.xml (one testcase per phase and scenario) and out/k8s/timings.txt. On failure
# out/k8s/ keeps describe/events/pod logs (artefacts/) and every process's log (logs/), and a digest of
# them is printed right after the failed step.
# K8S_SCENARIOS="01 02" runs only those; K8S_KEEP=1 leaves the cluster up after the run (no teardown);
# K8S_NODES=1|2 makes fewer nodes (the multi-node scenarios then fail and say why).
source "$(dirname "$0")/lib/common.sh"
[[ $(id -u) == 0 ]] || die "needs root (network namespace, containerd, kubelet, loop devices)"
rm -rf "$OUT" && mkdir -p "$OUT/logs"
cases=() failed=0
record() { # NAME SECONDS [FAILURE MESSAGE]
  local body=""
  [[ -z ${3:-} ]] || { body="<failure message=\"$(sed 's/&/\&amp;/g; s/</\&lt;/g; s/"/\&quot;/g' <<<"$3")\"/>"; failed=$((failed + 1)); }
  cases+=("<testcase classname=\"k8s\" name=\"$1\" time=\"$2\">$body</testcase>")
  printf '%-44s %5s s %s\n' "$1" "$2" "${3:+FAILED}" | tee -a "$OUT/timings.txt" >&2
}
write_junit() {
  { echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<testsuites><testsuite name=\"k8s\" tests=\"${#cases[@]}\" failures=\"$failed\">"
    printf '%s\n' "${cases[@]}"
    echo "</testsuite></testsuites>"; } >"$OUT/junit.xml"
}
# phase NAME COMMAND...: run, time and record; the log of the step is out/k8s/NAME.log
phase() {
  local name=$1 t=$SECONDS file; shift
  file=$(tr -cs 'a-z0-9\n' '-' <<<"$name").log
  if "$@" > >(tee "$OUT/$file") 2>&1; then record "$name" $((SECONDS - t)); return 0; fi
  record "$name" $((SECONDS - t)) "$name failed (out/k8s/$file)"; return 1
}
teardown() {
  [[ ${K8S_KEEP:-} == 1 ]] && { log "K8S_KEEP=1: cluster left up (test/k8s/cluster/down.sh)"; return; }
  phase "teardown" "$K8S_DIR/cluster/down.sh" || true
}
trap 'write_junit' EXIT
"$K8S_DIR/cluster/down.sh" >/dev/null 2>&1 || true   # a cluster left by an interrupted run

# Disk: the nodes' state is on the CI host's own disk. Measured peaks: the three nodes' containerd hold about
# 5.5 GiB of images (each node imports every image and unpacks it), a cold image build writes about 2.2 GiB
# under .cache/, and kubelet evicts pods below 512 MiB free (cluster/configs.sh). A run on a host with less
# free than that ends in evictions and a "timed out" with no visible cause (one CI run did), so say it first.
need=$((7 * 1024))
[[ -s $CACHE/images/current ]] || need=$((need + 2304))
have=$(free_mib "$(dirname "$STATE")")
log "disk: $((have / 1024)) GiB free for $STATE (the suite needs about $((need / 1024)) GiB)"
((have >= need)) || die "not enough free disk: $have MiB free under $(dirname "$STATE"), the suite needs about $need MiB"

scenarios=()
for f in "$K8S_DIR"/scenarios/[0-9]*.sh; do
  n=$(basename "$f"); [[ -z ${K8S_SCENARIOS:-} || " $K8S_SCENARIOS " == *" ${n:0:2} "* ]] && scenarios+=("$f")
done
# collect STEP: keep the artefacts of a failed step and print their digest (cluster/collect.sh)
collect() { "$K8S_DIR/cluster/collect.sh" "$1" || true; }
ok=1
phase "build: system packages" "$K8S_DIR/build/packages.sh" && phase "build: go binaries" "$K8S_DIR/build/binaries.sh" && phase "build: images" "$K8S_DIR/build/images.sh" &&
  phase "cluster up" "$K8S_DIR/cluster/up.sh" && phase "helm install" "$K8S_DIR/driver/install.sh" || { ok=0; collect "the cluster or the driver failed to come up"; }
for f in "${scenarios[@]}"; do
  name="scenario $(basename "$f" .sh)"
  if ((ok == 0)); then record "$name" 0 "not run: the cluster or the driver did not come up"; continue; fi
  phase "$name" timeout 900 bash "$f" || collect "$name failed"
done
teardown
write_junit
log "k8s: ${#cases[@]} steps, $failed failed (out/k8s/junit.xml, timings in out/k8s/timings.txt)"
exit $((failed > 0))
