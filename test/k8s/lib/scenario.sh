# Helpers for scenarios (sourced by test/k8s/scenarios/*.sh after lib/common.sh). Each scenario works in
# its own namespace ($SNS), created by `scenario_ns` and deleted (with its PVCs) by `scenario_cleanup`.
BUSYBOX=localhost/busybox:k8s-e2e

json() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
scenario_ns() { SNS=$1; k create namespace "$SNS" >/dev/null; }
scenario_cleanup() {
  k -n "$SNS" delete pod --all --wait=true --timeout=120s >/dev/null
  k -n "$SNS" delete volumesnapshot --all --wait=true --timeout=120s >/dev/null 2>&1 || true
  k -n "$SNS" delete pvc --all --wait=true --timeout=120s >/dev/null
  k delete namespace "$SNS" --wait=true --timeout=120s >/dev/null
}
# assert DESCRIPTION COMMAND...: fail the scenario with DESCRIPTION unless COMMAND succeeds.
assert() { local what=$1; shift; "$@" || die "assertion failed: $what"; log "ok: $what"; }
assert_eq() { [[ $2 == "$3" ]] || die "assertion failed: $1: expected '$3', got '$2'"; log "ok: $1 ($2)"; }

# pvc NAME CLASS SIZE [Filesystem|Block] [ACCESS_MODE] [extra spec lines...]
pvc() {
  local name=$1 class=$2 size=$3 mode=${4:-Filesystem} access=${5:-ReadWriteOnce}; shift 5 2>/dev/null || shift $#
  k -n "$SNS" apply -f - >/dev/null <<Y
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $name}
spec:
  storageClassName: $class
  volumeMode: $mode
  accessModes: [$access]
  resources: {requests: {storage: $size}}
$(printf '  %s\n' "$@")
Y
}
# pod NAME SCRIPT [fs:PVC:/path ...] [blk:PVC:/dev/x ...]: a busybox pod that runs SCRIPT then sleeps.
pod() {
  local name=$1 script=$2; shift 2
  local mounts="" devices="" volumes="" spec
  for spec in "$@"; do
    IFS=: read -r kind claim path <<<"$spec"
    volumes+="    - {name: $claim, persistentVolumeClaim: {claimName: $claim}}"$'\n'
    if [[ $kind == fs ]]; then mounts+="        - {name: $claim, mountPath: $path}"$'\n'
    else devices+="        - {name: $claim, devicePath: $path}"$'\n'; fi
  done
  k -n "$SNS" apply -f - >/dev/null <<Y
apiVersion: v1
kind: Pod
metadata: {name: $name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: $BUSYBOX
      imagePullPolicy: Never
      command: [/bin/sh, -c, $(json "set -e; $script; touch /tmp/done; exec sleep 3600")]
      readinessProbe: {exec: {command: [test, -f, /tmp/done]}, periodSeconds: 1}
${mounts:+      volumeMounts:
$mounts}${devices:+      volumeDevices:
$devices}  volumes:
$volumes
Y
}
pod_ready() { k -n "$SNS" wait --for=condition=Ready "pod/$1" --timeout="${2:-180}s" >/dev/null ||
  { k -n "$SNS" describe pod "$1" | tail -20 >&2; k -n "$SNS" logs "$1" >&2 || true; die "pod $1 not Ready"; }; }
pod_exec() { local p=$1; shift; k -n "$SNS" exec "$p" -- "$@"; }
pvc_phase() { k -n "$SNS" get pvc "$1" -o jsonpath='{.status.phase}'; }
pvc_is_bound() { [[ $(pvc_phase "$1") == Bound ]]; }
pvc_bound() { wait_for "${2:-180}" "PVC $1 Bound" pvc_is_bound "$1"; }
pv_of() { k -n "$SNS" get pvc "$1" -o jsonpath='{.spec.volumeName}'; }
pv_gone() { [[ -z $(k get pv "$1" -o name --ignore-not-found) ]]; }
volume_handle() { k get pv "$1" -o jsonpath='{.spec.csi.volumeHandle}'; }
# The simulator's view, over SSH like the controller: /disk print of one slot, and its file on disk.
rds() {
  in_ns ssh -n -q -i "$STATE/ssh/rds-csi_ed25519" -p "$SIM_PORT" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$STATE/ssh/known_hosts" "rds-csi@$NODE_IP" "$@"
}
disk_file() { find "$SIM_DATA/storage-pool" -name "$1*" -type f 2>/dev/null | head -1; }
