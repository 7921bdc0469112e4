#!/usr/bin/env bash
# Scenario 0 (issue 17 item 1): capacity tracking works. Every node reports the appliance's topology segment
# (<driver>/appliance=<chart value rds.applianceName>), so external-provisioner keeps ONE stable
# CSIStorageCapacity per StorageClass with the pool's free space, and a pod with a new WaitForFirstConsumer
# PVC schedules within seconds. Before the segment existed, the provisioner created and deleted capacity
# objects with an empty node topology in a loop and such pods waited ~100 s ("did not have enough free storage").
source "$(dirname "$0")/../lib/common.sh"
source "$K8S_DIR/lib/scenario.sh"
DRIVER=rds.csi.mikrotik.com
KEY=$DRIVER/appliance
node=$(k get nodes -o jsonpath='{.items[0].metadata.name}')

csinode_keys() { k get csinode "$node" -o jsonpath="{.spec.drivers[?(@.name==\"$DRIVER\")].topologyKeys}"; }
has_key() { [[ $(csinode_keys) == *"$KEY"* ]]; }
assert "CSINode of $node lists the topology key $KEY" wait_for 60 "topology key in CSINode" has_key
assert_eq "node label $KEY" "$(k get node "$node" -o jsonpath="{.metadata.labels.${KEY//./\\.}}")" rds

# capacity_of CLASS: "<name> <uid> <capacity>" of the class's CSIStorageCapacity for our segment.
capacity_of() {
  k get csistoragecapacities -A -o json | python3 -c '
import json, sys
key, cls = sys.argv[1], sys.argv[2]
for o in json.load(sys.stdin)["items"]:
    labels = ((o.get("nodeTopology") or {}).get("matchLabels") or {})
    if o["storageClassName"] == cls and labels.get(key) == "rds":
        print(o["metadata"]["name"], o["metadata"]["uid"], o.get("capacity", ""))' "$KEY" "$1"
}
has_capacity() { [[ -n $(capacity_of rds-ext4) ]]; }
assert "a CSIStorageCapacity for rds-ext4 in segment $KEY=rds" wait_for 90 "CSIStorageCapacity" has_capacity
read -r name uid capacity <<<"$(capacity_of rds-ext4)"
log "CSIStorageCapacity $name: capacity $capacity"
assert "its capacity is the pool's free space (non-zero)" test -n "$capacity" -a "$capacity" != 0
sleep 10
read -r name2 uid2 _ <<<"$(capacity_of rds-ext4)"
assert_eq "the same CSIStorageCapacity object 10 s later (stable, not re-created)" "$name2/$uid2" "$name/$uid"
count=$(k get csistoragecapacities -A -o json | python3 -c 'import json,sys; print(sum(1 for o in json.load(sys.stdin)["items"] if o["storageClassName"]=="rds-ext4"))')
assert_eq "exactly one CSIStorageCapacity for rds-ext4" "$count" 1

scenario_ns s00-capacity
pvc wffc rds-ext4 64Mi
t=$SECONDS
pod consumer "true" fs:wffc:/data
pod_ready consumer 120
waited=$((SECONDS - t))
log "WaitForFirstConsumer pod Ready after $waited s"
assert "the WaitForFirstConsumer pod was Ready within 30 s (was ~100 s without topology)" test "$waited" -le 30
scenario_cleanup
