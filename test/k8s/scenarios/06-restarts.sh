#!/usr/bin/env bash
# Scenario 6: restarts.
#  a. The node plugin pod of the workload's node is deleted while a volume is mounted: the workload keeps
#     its data, and the new plugin serves the unstage when the workload goes.
#  b. The controller pod is deleted right after a PVC is created: the PVC still binds, no orphan disk.
#  c. The simulator drops the SSH connection on `/disk add` during provisioning: the PVC still binds.
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
scenario_ns s06-restart
plugin_ready() { k -n "$NS" rollout status ds/rds-csi-node --timeout=5s; }
controller_ready() { k -n "$NS" rollout status deploy/rds-csi-controller --timeout=5s; }
disks_on_rds() { find "$SIM_DATA/storage-pool/rds-csi" -type f -name 'pvc-*' 2>/dev/null | wc -l; }
pvs() { k get pv -o name | wc -l; }

# a. node plugin restart under a mounted volume
pvc data rds-ext4-immediate 64Mi
pod app "echo survives > /data/f; sync" fs:data:/data
pod_ready app
on=$(pod_node app)
old=$(k -n "$NS" get pod -l app.kubernetes.io/component=node --field-selector spec.nodeName="$(node_name "$on")" -o name)
k -n "$NS" delete "$old" --wait=true --timeout=120s >/dev/null
assert "a new node plugin pod is Ready" wait_for 180 "node plugin rollout" plugin_ready
assert_eq "the workload still reads its data" "$(pod_exec app cat /data/f)" survives
handle=$(volume_handle "$(pv_of data)")
k -n "$SNS" delete pod app --wait=true --timeout=120s >/dev/null
unstaged() { ! on_node "$on" findmnt -rn -o TARGET | grep -q "$handle" && ! losetup -l -n -O BACK-FILE | grep -q "$handle"; }
assert "the new plugin on node $on unstaged the volume (no mount, no loop device of $handle left)" wait_for 60 unstage unstaged

# b. controller restart during provisioning
pvc during-restart rds-ext4-immediate 64Mi
k -n "$NS" delete pod -l app.kubernetes.io/component=controller --wait=false >/dev/null
assert "the PVC binds after the controller restart" pvc_bound during-restart 300
assert "the controller is back" wait_for 120 "controller rollout" controller_ready
k -n "$SNS" delete pvc during-restart data --wait=true --timeout=120s >/dev/null
no_orphans() { (($(disks_on_rds) == $(pvs))); }
assert "no orphan disk on the RDS (disks = PVs)" wait_for 120 "orphan check" no_orphans

# c. the SSH connection drops on /disk add
# The simulator drops connections until the end of this part, also when an assertion fails.
dropping=1
trap '((dropping == 0)) || "$K8S_DIR/driver/sim.sh" restart >/dev/null' EXIT
"$K8S_DIR/driver/sim.sh" restart --drop-on '/disk add'
pvc during-drop rds-ext4-immediate 64Mi
# The provisioner's CreateVolume fails with the driver's "dropped while the command ran" (UNAVAILABLE).
dropped() {
  k -n "$SNS" get events --field-selector involvedObject.name=during-drop,reason=ProvisioningFailed \
    -o jsonpath='{.items[*].message}' | grep -q dropped
}
assert "the simulator dropped the SSH connection during CreateVolume" wait_for 120 "a dropped connection" dropped
"$K8S_DIR/driver/sim.sh" restart
dropping=0
assert "the PVC binds after the dropped connection" pvc_bound during-drop 300
k -n "$SNS" delete pvc during-drop --wait=true --timeout=120s >/dev/null
assert "no orphan disk on the RDS after the drop" wait_for 120 "orphan check" no_orphans
scenario_cleanup
