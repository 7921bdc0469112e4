// The NVMe host identity of a node, derived from its node id. The controller computes the same value
// from the node id to fill an export's allowed hosts, so this module must stay pure (no file system,
// no randomness): the same (nodeId, driverName) always gives the same NQN and host id, and two nodes
// never share one (democratic-csi#451: an image-baked /etc/nvme/hostnqn shared by every node).
import { createHash } from "node:crypto";

/** Namespace UUID of rds-csi host identities (fixed forever: changing it changes every node's NQN). */
const HOST_NAMESPACE = "5b0e6f7a-3c1d-4e8b-9f2a-7d4c1e6b8a30";

/** The UUID-based NQN form the NVMe base specification defines for hosts without a registered domain. */
export const UUID_NQN_PREFIX = "nqn.2014-08.org.nvmexpress:uuid:";

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

function formatUuid(b: Buffer): string {
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** RFC 9562 UUIDv5: SHA-1 of namespace and name, with the version and variant bits set. */
export function uuidV5(name: string, namespace: string = HOST_NAMESPACE): string {
  const hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  return formatUuid(b);
}

function hostName(nodeId: string, driverName: string): string {
  if (!nodeId) throw new Error("node id is required to derive the host NQN");
  if (!driverName) throw new Error("driver name is required to derive the host NQN");
  return `${driverName}/${nodeId}`;
}

/** `nqn.2014-08.org.nvmexpress:uuid:<uuidv5(driverName/nodeId)>`: stable, unique per node and driver. */
export function deriveHostNqn(nodeId: string, driverName: string): string {
  return `${UUID_NQN_PREFIX}${uuidV5(hostName(nodeId, driverName))}`;
}

/**
 * The host id (`--hostid`) that goes with a host NQN. The kernel refuses a second connection that pairs a
 * known host NQN with a different host id, so the pair has to be as stable as the NQN: for a UUID NQN it
 * is that UUID (what `nvme gen-hostnqn` users get), otherwise a UUIDv5 of the NQN.
 */
export function hostIdForNqn(hostNqn: string): string {
  if (hostNqn.startsWith(UUID_NQN_PREFIX)) {
    const uuid = hostNqn.slice(UUID_NQN_PREFIX.length).toLowerCase();
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) return uuid;
  }
  return uuidV5(`hostnqn/${hostNqn}`);
}
