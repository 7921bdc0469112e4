// Read-only controller RPCs: ValidateVolumeCapabilities, ListVolumes, ControllerGetVolume, GetCapacity.
import { capabilityProblem, requireCapabilities } from "../csi/capability.ts";
import { aborted, failedPrecondition, invalidArgument, notFound, required } from "../csi/errors.ts";
import type { ControllerGetVolumeRequest__Output } from "../csi/generated/csi/v1/ControllerGetVolumeRequest.ts";
import type { ControllerGetVolumeResponse } from "../csi/generated/csi/v1/ControllerGetVolumeResponse.ts";
import type { GetCapacityRequest__Output } from "../csi/generated/csi/v1/GetCapacityRequest.ts";
import type { GetCapacityResponse } from "../csi/generated/csi/v1/GetCapacityResponse.ts";
import type { ListVolumesRequest__Output } from "../csi/generated/csi/v1/ListVolumesRequest.ts";
import type { ListVolumesResponse } from "../csi/generated/csi/v1/ListVolumesResponse.ts";
import type { ValidateVolumeCapabilitiesRequest__Output } from "../csi/generated/csi/v1/ValidateVolumeCapabilitiesRequest.ts";
import type { ValidateVolumeCapabilitiesResponse } from "../csi/generated/csi/v1/ValidateVolumeCapabilitiesResponse.ts";
import { segmentIsOurs } from "../csi/topology.ts";
import { encodeVolumeContext, parseHealthCheck } from "../csi/volume-context.ts";
import { isVolumeId } from "../csi/volume-id.ts";
import { metrics } from "../observability/metrics.ts";
import { MIN_VOLUME_BYTES } from "./capacity-range.ts";
import type { ControllerContext, Volume } from "./context.ts";
import { parseParams } from "./params.ts";
import { loadVolume, listVolumes as storedVolumes } from "./volume-store.ts";
import { poolOf } from "./volumes/path.ts";

/**
 * The CSI Volume for a volume on the appliance: what CreateVolume, ListVolumes and ControllerGetVolume
 * return. CreateVolume passes the request's parameters: the volume_context carries the StorageClass's
 * NVMe address and mkfs options, which version-2 records do not keep (volume-record.ts).
 */
export function volumeInfo(
  v: Volume,
  requestParams?: Record<string, string>,
  topology?: Record<string, string>,
) {
  const p = { ...v.record.params, ...requestParams };
  const ctx = encodeVolumeContext({
    name: v.record.name,
    mkfsOptions: p.mkfsOptions,
    nvmeAddress: p.nvmeAddress,
    unsafeMountOptions: p.allowUnsafeMountOptions === "true",
    ...(p.healthCheck ? { healthCheck: parseHealthCheck("healthCheck", p.healthCheck) } : {}),
  });
  return {
    volume_id: v.disk.slot,
    capacity_bytes: String(v.disk.sizeBytes),
    volume_context: ctx,
    ...(topology ? { accessible_topology: [{ segments: topology }] } : {}),
  };
}

function volumeStatus(v: Volume) {
  const abnormal = !v.disk.nvmeExport || v.disk.disabled;
  return {
    published_node_ids: v.record.attachments.map((a) => a.node),
    volume_condition: {
      abnormal,
      message: v.disk.disabled
        ? "disk is disabled on the RDS"
        : !v.disk.nvmeExport
          ? "NVMe/TCP export is disabled on the RDS"
          : "volume is healthy",
    },
  };
}

export async function validateVolumeCapabilities(
  c: ControllerContext,
  req: ValidateVolumeCapabilitiesRequest__Output,
): Promise<ValidateVolumeCapabilitiesResponse> {
  const id = required(req.volume_id, "volume_id");
  if (!req.volume_capabilities?.length) throw invalidArgument("volume_capabilities is required");
  const v = await loadVolume(c, id);
  if (!v) throw notFound(`volume ${id} does not exist`);
  const problem = req.volume_capabilities.map(capabilityProblem).find(Boolean);
  if (problem) return { message: problem };
  try {
    parseParams(req.parameters);
  } catch (err) {
    return { message: (err as Error).message };
  }
  return {
    confirmed: {
      volume_context: req.volume_context,
      volume_capabilities: req.volume_capabilities,
      parameters: req.parameters,
    },
  };
}

// The page token is the last volume id of the previous page: stable while volumes come and go.
export async function listVolumes(
  c: ControllerContext,
  req: ListVolumesRequest__Output,
): Promise<ListVolumesResponse> {
  const max = req.max_entries ?? 0;
  if (max < 0) throw invalidArgument("max_entries must not be negative");
  const token = req.starting_token ?? "";
  if (token && !isVolumeId(token))
    throw aborted(`starting_token "${token}" is not a token this driver issued`);
  const volumes = (await storedVolumes(c)).filter((v) => !token || v.disk.slot > token);
  const page = max > 0 ? volumes.slice(0, max) : volumes;
  const next = max > 0 && volumes.length > max ? page[page.length - 1]!.disk.slot : "";
  return {
    entries: page.map((v) => ({
      volume: volumeInfo(v, undefined, c.opts.topology),
      status: volumeStatus(v),
    })),
    next_token: next,
  };
}

export async function controllerGetVolume(
  c: ControllerContext,
  req: ControllerGetVolumeRequest__Output,
): Promise<ControllerGetVolumeResponse> {
  const id = required(req.volume_id, "volume_id");
  const v = await loadVolume(c, id);
  if (!v) throw notFound(`volume ${id} does not exist`);
  return { volume: volumeInfo(v, undefined, c.opts.topology), status: volumeStatus(v) };
}

export async function getCapacity(
  c: ControllerContext,
  req: GetCapacityRequest__Output,
): Promise<GetCapacityResponse> {
  if (req.volume_capabilities?.length) {
    try {
      requireCapabilities(req.volume_capabilities);
    } catch {
      return { available_capacity: "0" }; // CSI: capacity for an unsupported capability is zero
    }
  }
  // Another appliance's segment: none of this appliance's free space is there.
  if (!segmentIsOurs(c.opts.topology, req.accessible_topology?.segments)) return { available_capacity: "0" };
  const params = parseParams(req.parameters);
  const pool = poolOf(params.volumePath ?? c.opts.volumePath);
  const info = await c.rds.getPool(pool);
  if (!info) throw failedPrecondition(`pool "${pool}" is not a mounted disk on the RDS`);
  metrics.poolBytes.set({ kind: "size" }, info.sizeBytes);
  metrics.poolBytes.set({ kind: "free" }, info.freeBytes);
  return {
    available_capacity: String(info.freeBytes),
    maximum_volume_size: { value: String(info.freeBytes) },
    minimum_volume_size: { value: String(MIN_VOLUME_BYTES) },
  };
}
