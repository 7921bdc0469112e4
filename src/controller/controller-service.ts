// The CSI Controller service: maps each RPC to its implementation. Volume modification is not offered
// (capabilities say so; the RPC answers UNIMPLEMENTED). Snapshots and clones: ./snapshots/.
import { unimplemented } from "../csi/errors.ts";
import type { ControllerService } from "../csi/types.ts";
import { isNetworkAddress } from "../csi/volume-context.ts";
import { ControllerContext, type ControllerOptions } from "./context.ts";
import { createVolume, deleteVolume } from "./create-volume.ts";
import { controllerExpand } from "./expand.ts";
import { controllerPublish, controllerUnpublish } from "./publish.ts";
import { controllerGetVolume, getCapacity, listVolumes, validateVolumeCapabilities } from "./queries.ts";
import { createSnapshot, deleteSnapshot } from "./snapshots/create-snapshot.ts";
import { getSnapshot, listSnapshots } from "./snapshots/list-snapshots.ts";

export const CONTROLLER_CAPABILITIES = [
  "CREATE_DELETE_VOLUME",
  "PUBLISH_UNPUBLISH_VOLUME",
  "LIST_VOLUMES",
  "GET_CAPACITY",
  "EXPAND_VOLUME",
  "LIST_VOLUMES_PUBLISHED_NODES",
  "VOLUME_CONDITION",
  "GET_VOLUME",
  "SINGLE_NODE_MULTI_WRITER",
  "PUBLISH_READONLY",
  "CREATE_DELETE_SNAPSHOT",
  "LIST_SNAPSHOTS",
  "GET_SNAPSHOT",
  "CLONE_VOLUME",
] as const;

export function createControllerService(
  opts: ControllerOptions,
): ControllerService & { context: ControllerContext } {
  // Every publish hands this address to nodes: refuse a bad one at start, not at every attach.
  if (!isNetworkAddress(opts.nvmeAddress))
    throw new Error(`NVMe/TCP address ${JSON.stringify(opts.nvmeAddress)} is not an IP address or host name`);
  const c = new ControllerContext(opts);
  const notYet = (what: string) => async () => {
    throw unimplemented(`${what} is not supported by this version of rds-csi`);
  };
  return {
    context: c,
    CreateVolume: (req) => createVolume(c, req),
    DeleteVolume: (req) => deleteVolume(c, req),
    ControllerPublishVolume: (req) => controllerPublish(c, req),
    ControllerUnpublishVolume: (req) => controllerUnpublish(c, req),
    ValidateVolumeCapabilities: (req) => validateVolumeCapabilities(c, req),
    ListVolumes: (req) => listVolumes(c, req),
    GetCapacity: (req) => getCapacity(c, req),
    ControllerGetVolume: (req) => controllerGetVolume(c, req),
    ControllerExpandVolume: (req) => controllerExpand(c, req),
    ControllerGetCapabilities: async () => ({
      capabilities: CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })),
    }),
    CreateSnapshot: (req) => createSnapshot(c, req),
    DeleteSnapshot: (req) => deleteSnapshot(c, req),
    ListSnapshots: (req) => listSnapshots(c, req),
    GetSnapshot: (req) => getSnapshot(c, req),
    ControllerModifyVolume: notYet("ControllerModifyVolume"),
  };
}
