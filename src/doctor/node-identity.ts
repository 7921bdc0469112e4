// The node's NVMe host identity. rds-csi derives its host NQN from the node id (node/nvme/host-nqn.ts),
// so two nodes never share one by construction. What can still go wrong: an explicit --host-nqn copied
// between nodes or taken from a placeholder, and a host-wide /etc/nvme/hostnqn baked into an image or
// generated from a bogus SMBIOS UUID (democratic-csi#451, metal-images#359). rds-csi does not use the
// latter, but other NVMe-oF users on the host (nvme connect-all at boot, other drivers) do, and the
// target then sees several machines under one name.
import { join } from "node:path";
import { deriveHostNqn, UUID_NQN_PREFIX } from "../node/nvme/host-nqn.ts";
import { type HostEnv, onHost, readText } from "./host.ts";
import { type Check, type CheckResult, fail, ok, warn } from "./types.ts";

/** SMBIOS/placeholder UUIDs seen on many machines at once: an NQN made from one is not unique. */
export const SHARED_UUIDS = new Set([
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "03000200-0400-0500-0006-000700080009", // common default of unprogrammed boards
]);

/** Why this host NQN is known not to be unique, or undefined. */
export function knownSharedNqn(nqn: string): string | undefined {
  const v = nqn.trim().toLowerCase();
  if (v === "") return "it is empty";
  if (!v.startsWith("nqn.")) return "it does not start with nqn.";
  if (v.startsWith(UUID_NQN_PREFIX)) {
    const uuid = v.slice(UUID_NQN_PREFIX.length);
    if (uuid === "") return "its UUID part is empty";
    if (SHARED_UUIDS.has(uuid)) return `its UUID ${uuid} is a placeholder shared by many machines`;
    if (/^(.)\1{7}-\1{4}-\1{4}-\1{4}-\1{12}$/.test(uuid))
      return `its UUID ${uuid} is a repeated digit, a placeholder`;
  }
  if (/example|changeme|placeholder/.test(v)) return "it is a placeholder value";
  return undefined;
}

const NQN_MAX_BYTES = 223;

export interface IdentityInput {
  nodeId?: string;
  driverName: string;
  /** --host-nqn, when the operator set one. */
  hostNqn?: string;
}

export function hostNqnCheck(env: HostEnv, input: IdentityInput): Check {
  return {
    id: "node.host-nqn",
    title: "NVMe host NQN (unique per node)",
    async run(): Promise<CheckResult> {
      const problems: string[] = [];
      let driverNqn: string | undefined;
      let status: CheckResult["status"] = "ok";
      let fix: string | undefined;
      if (input.hostNqn) {
        driverNqn = input.hostNqn;
        const bad = knownSharedNqn(driverNqn);
        if (bad) {
          status = "fail";
          problems.push(`--host-nqn ${driverNqn} is not usable: ${bad}`);
          fix =
            "remove --host-nqn so rds-csi derives a unique NQN from the node id, or give each node its own (`nvme gen-hostnqn`)";
        } else if (Buffer.byteLength(driverNqn) > NQN_MAX_BYTES) {
          status = "fail";
          problems.push(`--host-nqn is longer than ${NQN_MAX_BYTES} bytes`);
          fix = "use a shorter NQN or let rds-csi derive one from the node id";
        }
      } else if (input.nodeId) {
        driverNqn = deriveHostNqn(input.nodeId, input.driverName);
      }

      const etcPath = onHost(env, "/etc/nvme/hostnqn");
      const etc = (await readText(etcPath))?.trim();
      let etcNote = `${etcPath}: absent`;
      if (etc !== undefined) {
        const bad = knownSharedNqn(etc);
        etcNote = `${etcPath}: ${etc || "(empty)"}`;
        if (bad) {
          if (status === "ok") status = "warn";
          problems.push(`${etcPath} is not unique: ${bad}`);
          fix ??=
            "rds-csi does not use this file, but other NVMe-oF users on this host do: regenerate it per machine " +
            "(`nvme gen-hostnqn > /etc/nvme/hostnqn`, and `uuidgen > /etc/nvme/hostid`), and never bake it into an image";
        }
      }
      const dmi = (await readText(join(env.sysfsRoot, "class", "dmi", "id", "product_uuid")))
        ?.trim()
        .toLowerCase();
      if (dmi && SHARED_UUIDS.has(dmi)) {
        if (status === "ok") status = "warn";
        problems.push(
          `the SMBIOS product UUID ${dmi} is a placeholder: \`nvme gen-hostnqn\` derives the same NQN on every such machine`,
        );
        fix ??=
          "generate host NQNs randomly (`nvme gen-hostnqn` falls back to a random UUID only without DMI) or let rds-csi derive one from the node id";
      }

      const driverPart = driverNqn
        ? `rds-csi uses ${driverNqn}${input.hostNqn ? " (--host-nqn)" : ` (derived from node id ${input.nodeId})`}`
        : "rds-csi derives its NQN from the node id: give --node-id to see it";
      const detail = [driverPart, etcNote, ...problems].join("; ");
      if (status === "fail") return fail(detail, fix);
      if (status === "warn") return warn(detail, fix);
      if (!driverNqn) return warn(detail, "pass the same --node-id as the node plugin");
      return ok(detail);
    },
  };
}
