// The CSI Identity service. Probe reports real readiness: the controller can reach the RDS, the node's
// transport works on this kernel. Not ready → FAILED_PRECONDITION with the reason.
import { readFileSync } from "node:fs";
import { failedPrecondition } from "./errors.ts";
import type { IdentityService } from "./types.ts";

export const DRIVER_VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version as string;
  } catch {
    return "0.0.0";
  }
})();

export interface IdentityOptions {
  driverName: string;
  hasController: boolean;
  /** Volumes and nodes carry the appliance's topology segment (src/csi/topology.ts). */
  hasTopology?: boolean;
  /** Each check throws (or rejects) with a reason when the plugin is not ready. */
  readinessChecks: Array<() => Promise<void>>;
}

export function createIdentityService(opts: IdentityOptions): IdentityService {
  return {
    GetPluginInfo: async () => ({ name: opts.driverName, vendor_version: DRIVER_VERSION }),
    GetPluginCapabilities: async () => ({
      capabilities: [
        ...(opts.hasController ? [{ service: { type: "CONTROLLER_SERVICE" as const } }] : []),
        ...(opts.hasTopology ? [{ service: { type: "VOLUME_ACCESSIBILITY_CONSTRAINTS" as const } }] : []),
        { volume_expansion: { type: "ONLINE" as const } },
      ],
    }),
    Probe: async () => {
      for (const check of opts.readinessChecks) {
        try {
          await check();
        } catch (err) {
          throw failedPrecondition(`not ready: ${(err as Error).message}`);
        }
      }
      return { ready: { value: true } };
    },
  };
}
