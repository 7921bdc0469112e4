// Topology: one segment per RDS appliance. Every node attached to an appliance reports the same segment
// (`<driver name>/appliance=<name>`), so the external-provisioner's capacity tracking publishes one stable
// CSIStorageCapacity per appliance and StorageClass, which the scheduler reads for WaitForFirstConsumer
// volumes. Without a segment, external-provisioner keeps creating and deleting a CSIStorageCapacity with an
// empty node topology, and pods wait until the scheduler happens to see one (~100 s measured in a cluster).
// Nothing else is constrained: every node of an appliance reaches every volume on it.

/** A Kubernetes label value (the topology value becomes a node label): at most 63 characters. */
export const APPLIANCE_NAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

export function topologyKey(driverName: string): string {
  return `${driverName}/appliance`;
}

/** The segment this installation's nodes and volumes are in; undefined when no appliance name is set. */
export function applianceSegment(driverName: string, name?: string): Record<string, string> | undefined {
  return name ? { [topologyKey(driverName)]: name } : undefined;
}

/**
 * Whether a requested topology (GetCapacity's accessible_topology) is ours. A segment that names another
 * appliance under our key is not: its capacity is not this appliance's free space.
 */
export function segmentIsOurs(
  ours: Record<string, string> | undefined,
  requested: Record<string, string> | undefined,
): boolean {
  if (!ours || !requested) return true;
  return Object.entries(ours).every(([k, v]) => requested[k] === undefined || requested[k] === v);
}
