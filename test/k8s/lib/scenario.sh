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
# ON_NODE=a|b|c pins it to that node through the scheduler (a nodeSelector: nodeName would bypass the
# scheduler, and a WaitForFirstConsumer PVC would never be provisioned).
pod() {
  local name=$1; shift
  k -n "$SNS" apply -f - >/dev/null <<Y
apiVersion: v1
kind: Pod
metadata: {name: $name}
spec:
$(pod_spec "$@")
Y
}
# deployment NAME PREFERRED_NODE SCRIPT [volumes...]: one replica of the same pod, preferring node
# a|b|c (the scheduler may put it elsewhere when that node is cordoned, tainted or gone).
deployment() {
  local name=$1 prefer=$2; shift 2
  k -n "$SNS" apply -f - >/dev/null <<Y
apiVersion: apps/v1
kind: Deployment
metadata: {name: $name}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: $name}}
  template:
    metadata: {labels: {app: $name}}
    spec:
      affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 100, preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$(node_name "$prefer")]}]}}]}}
$(pod_spec "$@" | sed 's/^/    /')
Y
}
# pod_spec SCRIPT [volumes...]: the body of a pod's spec (two spaces in).
pod_spec() {
  local script=$1; shift
  local mounts="" devices="" volumes="" spec
  for spec in "$@"; do
    IFS=: read -r kind claim path <<<"$spec"
    volumes+="    - {name: $claim, persistentVolumeClaim: {claimName: $claim}}"$'\n'
    if [[ $kind == fs ]]; then mounts+="        - {name: $claim, mountPath: $path}"$'\n'
    else devices+="        - {name: $claim, devicePath: $path}"$'\n'; fi
  done
  [[ -z ${ON_NODE:-} ]] || echo "  nodeSelector: {kubernetes.io/hostname: $(node_name "$ON_NODE")}"
  cat <<Y
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
# deployment_pod NAME: the name of the deployment's one Ready pod (empty until there is one).
deployment_pod() {
  k -n "$SNS" get pod -l app="$1" -o json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    if p["metadata"].get("deletionTimestamp"): continue
    if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", [])):
        print(p["metadata"]["name"]); break'
}
# attachments PV: "<node> <attached>" per VolumeAttachment of the PV, sorted.
attachments() {
  k get volumeattachment -o json | python3 -c '
import json, sys
for v in json.load(sys.stdin)["items"]:
    if v["spec"]["source"].get("persistentVolumeName") == sys.argv[1]:
        print(v["spec"]["nodeName"], str(v.get("status", {}).get("attached", False)).lower())' "$1" | sort
}
# events_of OBJECT_NAME: the messages of every Event about it in $SNS.
events_of() { k -n "$SNS" get events --field-selector involvedObject.name="$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'; }
# Loop devices are machine-wide, so `losetup -l` shows every node's. What one node holds:
# plugin_loops a|b|c: "<loopN> <backing file>" of each loop device that node's plugin attached (its own
# records beside its socket, checked against the device's diskseq: src/node/nvme/loop.ts).
plugin_loops() {
  on_node "$1" bash -c 'for f in "$1"/plugins/rds.csi.mikrotik.com/loop-devices/loop*; do
    [[ -f $f ]] || continue; n=${f##*/}
    [[ $(cat "$f") == "$(cat "/sys/block/$n/diskseq" 2>/dev/null)" ]] && echo "$n $(cat "/sys/block/$n/loop/backing_file" 2>/dev/null)"
  done; true' _ "$KUBELET_DIR"
}
# kubelet_mapped POD: whether kubelet holds its loop device over POD's published block device (the
# backing file's path names the pod's UID).
kubelet_mapped() {
  local uid; uid=$(k -n "$SNS" get pod "$1" -o jsonpath='{.metadata.uid}')
  losetup -l -n -O BACK-FILE | grep -q "volumeDevices/.*$uid"
}
pod_node() { node_letter "$(k -n "$SNS" get pod "$1" -o jsonpath='{.spec.nodeName}')"; }   # a|b|c
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
